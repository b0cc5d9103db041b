"""Console passwords: the account password policy, checks, argon2id hashes, generation.

Pure functions and values (no store, no clock): the IAM handlers, sign-in and the CLI share
them. A password never leaves this module except as an argon2id hash or a verdict.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from iamd import errors as aws

__all__ = [
    "DEFAULT_POLICY",
    "SYMBOLS",
    "PasswordPolicy",
    "change_password_policy",
    "check_password",
    "expires_at",
    "generate_password",
    "hash_password",
    "is_expired",
    "password_matches",
    "policy_problems",
]

SYMBOLS = "!@#$%^&*()_+-=[]{}|'"
"""The symbols AWS's RequireSymbols counts (AWS "Set an account password policy for IAM users")."""

_HASHER = PasswordHasher()  # argon2id with the library's (RFC 9106 based) defaults


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """The account password policy; field names are AWS's, values as UpdateAccountPasswordPolicy takes them."""

    MinimumPasswordLength: int = 6
    RequireSymbols: bool = False
    RequireNumbers: bool = False
    RequireUppercaseCharacters: bool = False
    RequireLowercaseCharacters: bool = False
    AllowUsersToChangePassword: bool = False
    MaxPasswordAge: int = 0  # days; 0 = passwords never expire
    PasswordReusePrevention: int = 0  # 0 = no reuse check
    HardExpiry: bool = False
    # Not an AWS field: the default policy (no policy set) asks for 3 of the 4 character classes.
    MinimumCharacterClasses: int = 0

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PasswordPolicy:
        """UpdateAccountPasswordPolicy's parameters: a full replace, omitted fields take the defaults."""
        fields = {k: params[k] for k in cls.__dataclass_fields__ if k in params and k != "MinimumCharacterClasses"}
        policy = cls(**fields)
        policy.validate()
        return policy

    def validate(self) -> None:
        # The model enforces these ranges too; the server checks them again (raw clients).
        for name, value, low, high in (
            ("minimumPasswordLength", self.MinimumPasswordLength, 6, 128),
            ("maxPasswordAge", self.MaxPasswordAge, 1, 1095),
            ("passwordReusePrevention", self.PasswordReusePrevention, 1, 24),
        ):
            if name != "minimumPasswordLength" and value == 0:
                continue
            if value < low:
                raise aws.ValidationError(
                    f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: "
                    f"Member must have value greater than or equal to {low}"
                )
            if value > high:
                raise aws.ValidationError(
                    f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: "
                    f"Member must have value less than or equal to {high}"
                )

    @classmethod
    def from_json(cls, text: str) -> PasswordPolicy:
        return cls(**json.loads(text))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def to_wire(self) -> dict[str, Any]:
        """GetAccountPasswordPolicy's ``PasswordPolicy``: derived ExpirePasswords; unset fields omitted."""
        out: dict[str, Any] = {
            "MinimumPasswordLength": self.MinimumPasswordLength,
            "RequireSymbols": self.RequireSymbols,
            "RequireNumbers": self.RequireNumbers,
            "RequireUppercaseCharacters": self.RequireUppercaseCharacters,
            "RequireLowercaseCharacters": self.RequireLowercaseCharacters,
            "AllowUsersToChangePassword": self.AllowUsersToChangePassword,
            "ExpirePasswords": self.MaxPasswordAge > 0,
            "HardExpiry": self.HardExpiry,
        }
        if self.MaxPasswordAge:
            out["MaxPasswordAge"] = self.MaxPasswordAge
        if self.PasswordReusePrevention:
            out["PasswordReusePrevention"] = self.PasswordReusePrevention
        return out


DEFAULT_POLICY = PasswordPolicy(MinimumPasswordLength=8, MinimumCharacterClasses=3)
"""What applies while an account has no password policy: AWS's current default (AWS "Set an account password policy for
IAM users"):
8 to 128 characters, at least 3 of upper case, lower case, digits and symbols, no expiry."""

MAX_LENGTH = 128


def _classes(password: str) -> dict[str, bool]:
    return {
        "upper": any(c in string.ascii_uppercase for c in password),
        "lower": any(c in string.ascii_lowercase for c in password),
        "number": any(c in string.digits for c in password),
        "symbol": any(c in SYMBOLS for c in password),
    }


def policy_problems(policy: PasswordPolicy, password: str, *, forbidden: Sequence[str] = ()) -> list[str]:
    """Every rule the password breaks, in AWS's words where known (an empty list: it complies)."""
    problems: list[str] = []
    if len(password) < policy.MinimumPasswordLength:
        problems.append(f"Password should have a minimum length of {policy.MinimumPasswordLength}")
    if len(password) > MAX_LENGTH:
        problems.append(f"Password should have a maximum length of {MAX_LENGTH}")
    has = _classes(password)
    if policy.RequireUppercaseCharacters and not has["upper"]:
        problems.append("Password should have at least one uppercase letter")
    if policy.RequireLowercaseCharacters and not has["lower"]:
        problems.append("Password should have at least one lowercase letter")
    if policy.RequireNumbers and not has["number"]:
        problems.append("Password should have at least one number")
    if policy.RequireSymbols and not has["symbol"]:
        problems.append("Password should have at least one symbol")
    if policy.MinimumCharacterClasses and sum(has.values()) < policy.MinimumCharacterClasses:
        problems.append(
            f"Password should contain at least {policy.MinimumCharacterClasses} of the following: uppercase "
            "letters, lowercase letters, numbers and symbols"
        )
    if any(password == f for f in forbidden if f):
        problems.append("Password should not be the same as the account name or alias")
    return problems


def check_password(policy: PasswordPolicy, password: str, *, forbidden: Sequence[str] = ()) -> None:
    """PasswordPolicyViolation naming every rule the password breaks (one per line)."""
    problems = policy_problems(policy, password, forbidden=forbidden)
    if problems:
        raise aws.PasswordPolicyViolation("\n".join(problems))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    """Constant-time argon2id verification (argon2 compares digests in constant time)."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def reused(history: Sequence[str], password: str, prevention: int) -> bool:
    """Whether ``password`` is one of the last ``prevention`` passwords (current first in ``history``)."""
    return prevention > 0 and any(password_matches(h, password) for h in history[:prevention])


def expires_at(policy: PasswordPolicy, changed: datetime) -> datetime | None:
    return changed + timedelta(days=policy.MaxPasswordAge) if policy.MaxPasswordAge else None


def is_expired(policy: PasswordPolicy, changed: datetime, now: datetime) -> bool:
    end = expires_at(policy, changed)
    return end is not None and now >= end


def generate_password(policy: PasswordPolicy, length: int | None = None) -> str:
    """A random password from ``secrets`` that satisfies ``policy``: one of every class, shuffled."""
    size = max(length or 20, policy.MinimumPasswordLength, 4)
    pools = [string.ascii_uppercase, string.ascii_lowercase, string.digits, SYMBOLS]
    chars = [secrets.choice(pool) for pool in pools]
    alphabet = "".join(pools)
    chars += [secrets.choice(alphabet) for _ in range(size - len(chars))]
    for i in range(len(chars) - 1, 0, -1):  # Fisher-Yates with the secrets generator
        j = secrets.randbelow(i + 1)
        chars[i], chars[j] = chars[j], chars[i]
    password = "".join(chars)
    assert not policy_problems(policy, password)
    return password


def change_password_policy(user_arn: str) -> str:
    """The AWS managed policy that lets a user change their own password (``IAMUserChangePassword``),
    in the partition of ``user_arn`` (the server's: docs/iam-api.md, "Regions and partitions")."""
    return f"arn:{user_arn.split(':')[1]}:iam::aws:policy/IAMUserChangePassword"
