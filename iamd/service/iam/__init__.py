"""The IAM operations iamd implements: name → (handler, whether it writes).

An operation absent from this table is answered with AWS's error for an operation the
service does not offer here, never with a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from iamd.service import outbound, root_access

from . import account, credential_report, keys, login_profiles, mfa, policies, roles, simulate, tags, users
from . import last_accessed as last
from . import org_access_report as org_report
from . import policy_insights as insights
from . import providers as idp
from . import server_certificates as server_certs
from . import service_credentials as service_creds
from . import service_linked_roles as slr
from . import signing_certificates as signing
from . import ssh_keys as ssh
from . import sts_preferences as sts_prefs

__all__ = ["OPERATIONS", "Operation"]


@dataclass(frozen=True, slots=True)
class Operation:
    handler: Callable[..., dict[str, Any] | None]
    writes: bool


def _w(handler: Callable[..., Any]) -> Operation:
    return Operation(handler, True)


def _r(handler: Callable[..., Any]) -> Operation:
    return Operation(handler, False)


OPERATIONS: dict[str, Operation] = {
    # users and groups
    "CreateUser": _w(users.create_user),
    "GetUser": _r(users.get_user),
    "ListUsers": _r(users.list_users),
    "UpdateUser": _w(users.update_user),
    "DeleteUser": _w(users.delete_user),
    "TagUser": _w(tags.tag),
    "UntagUser": _w(tags.untag),
    "ListUserTags": _r(tags.list_tags),
    "CreateGroup": _w(users.create_group),
    "GetGroup": _r(users.get_group),
    "ListGroups": _r(users.list_groups),
    "UpdateGroup": _w(users.update_group),
    "DeleteGroup": _w(users.delete_group),
    "AddUserToGroup": _w(users.add_user_to_group),
    "RemoveUserFromGroup": _w(users.remove_user_from_group),
    "ListGroupsForUser": _r(users.list_groups_for_user),
    # managed policies
    "CreatePolicy": _w(policies.create_policy),
    "GetPolicy": _r(policies.get_policy),
    "DeletePolicy": _w(policies.delete_policy),
    "ListPolicies": _r(policies.list_policies),
    "CreatePolicyVersion": _w(policies.create_policy_version),
    "GetPolicyVersion": _r(policies.get_policy_version),
    "ListPolicyVersions": _r(policies.list_policy_versions),
    "SetDefaultPolicyVersion": _w(policies.set_default_policy_version),
    "DeletePolicyVersion": _w(policies.delete_policy_version),
    "TagPolicy": _w(tags.tag),
    "UntagPolicy": _w(tags.untag),
    "ListPolicyTags": _r(tags.list_tags),
    "ListEntitiesForPolicy": _r(policies.list_entities_for_policy),
    # attachments, inline policies, boundaries
    **{f"Attach{k}Policy": _w(policies.attach_policy) for k in ("User", "Group", "Role")},
    **{f"Detach{k}Policy": _w(policies.detach_policy) for k in ("User", "Group", "Role")},
    **{f"ListAttached{k}Policies": _r(policies.list_attached_policies) for k in ("User", "Group", "Role")},
    **{f"Put{k}Policy": _w(policies.put_inline_policy) for k in ("User", "Group", "Role")},
    **{f"Get{k}Policy": _r(policies.get_inline_policy) for k in ("User", "Group", "Role")},
    **{f"Delete{k}Policy": _w(policies.delete_inline_policy) for k in ("User", "Group", "Role")},
    **{f"List{k}Policies": _r(policies.list_inline_policies) for k in ("User", "Group", "Role")},
    **{f"Put{k}PermissionsBoundary": _w(policies.put_boundary) for k in ("User", "Role")},
    **{f"Delete{k}PermissionsBoundary": _w(policies.delete_boundary) for k in ("User", "Role")},
    # roles and instance profiles
    "CreateRole": _w(roles.create_role),
    "GetRole": _r(roles.get_role),
    "ListRoles": _r(roles.list_roles),
    "UpdateRole": _w(roles.update_role),
    "UpdateRoleDescription": _w(roles.update_role_description),
    "UpdateAssumeRolePolicy": _w(roles.update_assume_role_policy),
    "DeleteRole": _w(roles.delete_role),
    "TagRole": _w(tags.tag),
    "UntagRole": _w(tags.untag),
    "ListRoleTags": _r(tags.list_tags),
    "CreateInstanceProfile": _w(roles.create_instance_profile),
    "GetInstanceProfile": _r(roles.get_instance_profile),
    "ListInstanceProfiles": _r(roles.list_instance_profiles),
    "ListInstanceProfilesForRole": _r(roles.list_instance_profiles_for_role),
    "DeleteInstanceProfile": _w(roles.delete_instance_profile),
    "AddRoleToInstanceProfile": _w(roles.add_role_to_instance_profile),
    "RemoveRoleFromInstanceProfile": _w(roles.remove_role_from_instance_profile),
    "TagInstanceProfile": _w(tags.tag),
    "UntagInstanceProfile": _w(tags.untag),
    "ListInstanceProfileTags": _r(tags.list_tags),
    # access keys
    "CreateAccessKey": _w(keys.create_access_key),
    "ListAccessKeys": _r(keys.list_access_keys),
    "UpdateAccessKey": _w(keys.update_access_key),
    "DeleteAccessKey": _w(keys.delete_access_key),
    "GetAccessKeyLastUsed": _r(keys.get_access_key_last_used),
    # account
    "CreateAccountAlias": _w(account.create_account_alias),
    "DeleteAccountAlias": _w(account.delete_account_alias),
    "ListAccountAliases": _r(account.list_account_aliases),
    "GetAccountSummary": _r(account.get_account_summary),
    "GetAccountAuthorizationDetails": _r(account.get_account_authorization_details),
    # the policy simulator
    "SimulatePrincipalPolicy": _r(simulate.simulate_principal_policy),
    "SimulateCustomPolicy": _r(simulate.simulate_custom_policy),
    # virtual MFA devices
    "CreateVirtualMFADevice": _w(mfa.create_virtual_mfa_device),
    "EnableMFADevice": _w(mfa.enable_mfa_device),
    "ResyncMFADevice": _w(mfa.resync_mfa_device),
    "DeactivateMFADevice": _w(mfa.deactivate_mfa_device),
    "DeleteVirtualMFADevice": _w(mfa.delete_virtual_mfa_device),
    "ListVirtualMFADevices": _r(mfa.list_virtual_mfa_devices),
    "ListMFADevices": _r(mfa.list_mfa_devices),
    "GetMFADevice": _r(mfa.get_mfa_device),
    "TagMFADevice": _w(tags.tag),
    "UntagMFADevice": _w(tags.untag),
    "ListMFADeviceTags": _r(tags.list_tags),
    # identity providers (federation)
    "CreateOpenIDConnectProvider": _w(idp.create_oidc_provider),
    "GetOpenIDConnectProvider": _r(idp.get_oidc_provider),
    "ListOpenIDConnectProviders": _r(idp.list_oidc_providers),
    "DeleteOpenIDConnectProvider": _w(idp.delete_oidc_provider),
    "AddClientIDToOpenIDConnectProvider": _w(idp.add_client_id),
    "RemoveClientIDFromOpenIDConnectProvider": _w(idp.remove_client_id),
    "UpdateOpenIDConnectProviderThumbprint": _w(idp.update_thumbprint),
    "TagOpenIDConnectProvider": _w(tags.tag),
    "UntagOpenIDConnectProvider": _w(tags.untag),
    "ListOpenIDConnectProviderTags": _r(tags.list_tags),
    "CreateSAMLProvider": _w(idp.create_saml_provider),
    "GetSAMLProvider": _r(idp.get_saml_provider),
    "ListSAMLProviders": _r(idp.list_saml_providers),
    "UpdateSAMLProvider": _w(idp.update_saml_provider),
    "DeleteSAMLProvider": _w(idp.delete_saml_provider),
    "TagSAMLProvider": _w(tags.tag),
    "UntagSAMLProvider": _w(tags.untag),
    "ListSAMLProviderTags": _r(tags.list_tags),
    # -- login profiles, passwords, password policy, credential report -------------
    "CreateLoginProfile": _w(login_profiles.create_login_profile),
    "GetLoginProfile": _r(login_profiles.get_login_profile),
    "UpdateLoginProfile": _w(login_profiles.update_login_profile),
    "DeleteLoginProfile": _w(login_profiles.delete_login_profile),
    "ChangePassword": _w(login_profiles.change_password),
    "UpdateAccountPasswordPolicy": _w(login_profiles.update_account_password_policy),
    "GetAccountPasswordPolicy": _r(login_profiles.get_account_password_policy),
    "DeleteAccountPasswordPolicy": _w(login_profiles.delete_account_password_policy),
    "GenerateCredentialReport": _w(credential_report.generate_credential_report),
    "GetCredentialReport": _r(credential_report.get_credential_report),
    # -- policy insights, STS preferences ---------------------------------------------
    "GetContextKeysForCustomPolicy": _r(insights.get_context_keys_for_custom_policy),
    "GetContextKeysForPrincipalPolicy": _r(insights.get_context_keys_for_principal_policy),
    "ListPoliciesGrantingServiceAccess": _r(insights.list_policies_granting_service_access),
    "SetSecurityTokenServicePreferences": _w(sts_prefs.set_security_token_service_preferences),
    # -- SSH public keys, signing certificates -------------------------------------------
    "UploadSSHPublicKey": _w(ssh.upload_ssh_public_key),
    "GetSSHPublicKey": _r(ssh.get_ssh_public_key),
    "ListSSHPublicKeys": _r(ssh.list_ssh_public_keys),
    "UpdateSSHPublicKey": _w(ssh.update_ssh_public_key),
    "DeleteSSHPublicKey": _w(ssh.delete_ssh_public_key),
    "UploadSigningCertificate": _w(signing.upload_signing_certificate),
    "ListSigningCertificates": _r(signing.list_signing_certificates),
    "UpdateSigningCertificate": _w(signing.update_signing_certificate),
    "DeleteSigningCertificate": _w(signing.delete_signing_certificate),
    # -- service-specific credentials ------------------------------------------------------
    "CreateServiceSpecificCredential": _w(service_creds.create_service_specific_credential),
    "ListServiceSpecificCredentials": _r(service_creds.list_service_specific_credentials),
    "ResetServiceSpecificCredential": _w(service_creds.reset_service_specific_credential),
    "UpdateServiceSpecificCredential": _w(service_creds.update_service_specific_credential),
    "DeleteServiceSpecificCredential": _w(service_creds.delete_service_specific_credential),
    # -- service-linked roles -------------------------------------------------------------
    "CreateServiceLinkedRole": _w(slr.create_service_linked_role),
    "DeleteServiceLinkedRole": _w(slr.delete_service_linked_role),
    "GetServiceLinkedRoleDeletionStatus": _r(slr.get_service_linked_role_deletion_status),
    # -- server certificates ------------------------------------------------------------------
    "UploadServerCertificate": _w(server_certs.upload_server_certificate),
    "GetServerCertificate": _r(server_certs.get_server_certificate),
    "ListServerCertificates": _r(server_certs.list_server_certificates),
    "UpdateServerCertificate": _w(server_certs.update_server_certificate),
    "DeleteServerCertificate": _w(server_certs.delete_server_certificate),
    "TagServerCertificate": _w(tags.tag),
    "UntagServerCertificate": _w(tags.untag),
    "ListServerCertificateTags": _r(tags.list_tags),
    # -- last-accessed data (from the audit trail) ----------------------------------------------
    "GenerateServiceLastAccessedDetails": _w(last.generate_service_last_accessed_details),
    "GetServiceLastAccessedDetails": _r(last.get_service_last_accessed_details),
    "GetServiceLastAccessedDetailsWithEntities": _r(last.get_service_last_accessed_details_with_entities),
    "GenerateOrganizationsAccessReport": _w(org_report.generate_organizations_access_report),
    "GetOrganizationsAccessReport": _r(org_report.get_organizations_access_report),
    # -- outbound web identity federation (STS GetWebIdentityToken's issuer and keys) ----------
    "EnableOutboundWebIdentityFederation": _w(outbound.enable_outbound_web_identity_federation),
    "DisableOutboundWebIdentityFederation": _w(outbound.disable_outbound_web_identity_federation),
    "GetOutboundWebIdentityFederationInfo": _r(outbound.get_outbound_web_identity_federation_info),
    # -- centralized root access for member accounts (Organizations) ------------------------------
    "EnableOrganizationsRootCredentialsManagement": _w(root_access.enable_organizations_root_credentials_management),
    "DisableOrganizationsRootCredentialsManagement": _w(root_access.disable_organizations_root_credentials_management),
    "EnableOrganizationsRootSessions": _w(root_access.enable_organizations_root_sessions),
    "DisableOrganizationsRootSessions": _w(root_access.disable_organizations_root_sessions),
    "ListOrganizationsFeatures": _r(root_access.list_organizations_features),
}
