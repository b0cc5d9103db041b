// End-to-end flow against a running iamd with the AWS SDK for JavaScript v3.
//
// Environment: IAMD_ENDPOINT (http://127.0.0.1:PORT), IAMD_ACCOUNT_ID, and the root key in
// IAMD_ROOT_ACCESS_KEY_ID / IAMD_ROOT_SECRET_ACCESS_KEY. Credentials are passed to the
// clients explicitly, so nothing is read from ~/.aws.
//
// Prints one JSON summary on stdout: {"ok": bool, "checks": [{"name", "ok", "detail"?}], ...}
// and exits 0 when every check passed, 1 when any failed, 2 on a setup problem.

import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  GetUserCommand,
  GetAccountAuthorizationDetailsCommand,
  GetAccountSummaryCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListGroupsForUserCommand,
  ListUsersCommand,
  ListUserTagsCommand,
  PutUserPolicyCommand,
  paginateListUsers,
} from "@aws-sdk/client-iam";

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.log(JSON.stringify({ ok: false, error: `missing environment variable ${name}` }));
    process.exit(2);
  }
  return value;
};

const endpoint = env("IAMD_ENDPOINT");
const account = env("IAMD_ACCOUNT_ID");
const rootCredentials = {
  accessKeyId: env("IAMD_ROOT_ACCESS_KEY_ID"),
  secretAccessKey: env("IAMD_ROOT_SECRET_ACCESS_KEY"),
};

// One attempt: a server error must show up as itself, not after the SDK's backoff.
const client = (credentials) => new IAMClient({ region: "us-east-1", endpoint, credentials, maxAttempts: 1 });

const checks = [];
const summary = { ok: false, sdk: "@aws-sdk/client-iam", checks };

const check = (name, ok, detail) => {
  const entry = { name, ok: Boolean(ok) };
  if (!ok && detail !== undefined) entry.detail = detail;
  checks.push(entry);
  return Boolean(ok);
};

const equal = (name, actual, expected) =>
  check(name, JSON.stringify(actual) === JSON.stringify(expected), { actual, expected });

// A Date parsed from the response, not more than ten minutes away from this machine's clock.
const recent = (name, value) =>
  check(
    name,
    value instanceof Date && !Number.isNaN(value.getTime()) && Math.abs(Date.now() - value.getTime()) < 600_000,
    { actual: String(value), type: Object.prototype.toString.call(value) },
  );

// Runs a call that must fail; returns the error (or null when it succeeded).
const failure = async (promise) => {
  try {
    await promise;
    return null;
  } catch (error) {
    return error;
  }
};

const errorShape = (error) =>
  error && {
    name: error.name,
    message: error.message,
    fault: error.$fault,
    status: error.$metadata?.httpStatusCode,
    requestId: error.$metadata?.requestId,
  };

const userName = "js-dev";
const userArn = `arn:aws:iam::${account}:user/e2e/${userName}`;

// A condition value with "%20", "&", "+" and non-ASCII: the document must survive the form
// encoding of the request, and AWS returns it URL-encoded (RFC 3986) in GetUserPolicy.
const inlinePolicy = {
  Version: "2012-10-17",
  Statement: [
    { Sid: "List", Effect: "Allow", Action: "iam:ListUsers", Resource: "*" },
    {
      Sid: "Self",
      Effect: "Allow",
      Action: ["iam:GetUser", "iam:ListUserTags"],
      Resource: "arn:aws:iam::*:user/e2e/${aws:username}",
      Condition: { StringNotEquals: { "aws:PrincipalTag/note": ["a%20b & c+d", "ünïcødé"] } },
    },
  ],
};

async function main() {
  const root = client(rootCredentials);

  // Root creates the user, with a path and tags.
  const created = await root.send(
    new CreateUserCommand({ UserName: userName, Path: "/e2e/", Tags: [{ Key: "team", Value: "red + blue" }] }),
  );
  equal("CreateUser.Arn", created.User?.Arn, userArn);
  equal("CreateUser.Path", created.User?.Path, "/e2e/");
  check("CreateUser.UserId", /^AIDA[A-Z0-9]{17}$/.test(created.User?.UserId ?? ""), created.User?.UserId);
  recent("CreateUser.CreateDate is a Date", created.User?.CreateDate);
  check("CreateUser.$metadata.requestId", Boolean(created.$metadata?.requestId), created.$metadata);
  equal("CreateUser.$metadata.httpStatusCode", created.$metadata?.httpStatusCode, 200);

  // Empty lists come back as [] (AWS sends <Groups/>), not undefined.
  const groups = await root.send(new ListGroupsForUserCommand({ UserName: userName }));
  equal("ListGroupsForUser empty list", groups.Groups, []);
  equal("ListGroupsForUser.IsTruncated", groups.IsTruncated, false);

  const tags = await root.send(new ListUserTagsCommand({ UserName: userName }));
  equal("ListUserTags", tags.Tags, [{ Key: "team", Value: "red + blue" }]);

  // An access key for the user.
  const key = (await root.send(new CreateAccessKeyCommand({ UserName: userName }))).AccessKey ?? {};
  check("CreateAccessKey.AccessKeyId", /^AKIA[A-Z0-9]{16}$/.test(key.AccessKeyId ?? ""), key.AccessKeyId);
  check("CreateAccessKey.SecretAccessKey", (key.SecretAccessKey ?? "").length === 40, key.SecretAccessKey?.length);
  equal("CreateAccessKey.Status", key.Status, "Active");
  equal("CreateAccessKey.UserName", key.UserName, userName);
  recent("CreateAccessKey.CreateDate is a Date", key.CreateDate);
  const listedKeys = await root.send(new ListAccessKeysCommand({ UserName: userName }));
  equal(
    "ListAccessKeys",
    (listedKeys.AccessKeyMetadata ?? []).map((k) => [k.AccessKeyId, k.Status]),
    [[key.AccessKeyId, "Active"]],
  );

  const dev = client({ accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey });

  // Without a policy the user is denied, with AWS's exact message.
  const denied = await failure(dev.send(new ListUsersCommand({})));
  const deniedShape = errorShape(denied);
  summary.denied = deniedShape;
  equal("denied ListUsers: error name", deniedShape?.name, "AccessDenied");
  equal(
    "denied ListUsers: message",
    deniedShape?.message,
    `User: ${userArn} is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::${account}:user/ ` +
      "because no identity-based policy allows the iam:ListUsers action",
  );
  equal("denied ListUsers: HTTP status", deniedShape?.status, 403);
  equal("denied ListUsers: fault", deniedShape?.fault, "client");
  check("denied ListUsers: request id", Boolean(deniedShape?.requestId), deniedShape);

  // Modeled errors map to the SDK's exception classes.
  const duplicate = errorShape(await failure(root.send(new CreateUserCommand({ UserName: userName }))));
  equal("CreateUser duplicate: error name", duplicate?.name, "EntityAlreadyExistsException");
  equal("CreateUser duplicate: message", duplicate?.message, `User with name ${userName} already exists.`);
  equal("CreateUser duplicate: HTTP status", duplicate?.status, 409);
  const malformed = errorShape(
    await failure(root.send(new PutUserPolicyCommand({ UserName: userName, PolicyName: "bad", PolicyDocument: "{" }))),
  );
  equal("PutUserPolicy malformed: error name", malformed?.name, "MalformedPolicyDocumentException");
  equal("PutUserPolicy malformed: HTTP status", malformed?.status, 400);

  const missing = errorShape(await failure(root.send(new GetUserCommand({ UserName: "nobody-here" }))));
  equal("GetUser missing: error name", missing?.name, "NoSuchEntityException");
  equal("GetUser missing: message", missing?.message, "The user with name nobody-here cannot be found.");
  equal("GetUser missing: HTTP status", missing?.status, 404);

  // Root puts the inline policy; the document round-trips (URL-encoded in the response).
  const documentText = JSON.stringify(inlinePolicy);
  await root.send(new PutUserPolicyCommand({ UserName: userName, PolicyName: "e2e", PolicyDocument: documentText }));
  const got = await root.send(new GetUserPolicyCommand({ UserName: userName, PolicyName: "e2e" }));
  const raw = got.PolicyDocument ?? "";
  summary.policyDocumentRaw = raw.slice(0, 60);
  check("GetUserPolicy.PolicyDocument is URL-encoded", raw.startsWith("%7B"), raw.slice(0, 60));
  let decoded = null;
  try {
    decoded = JSON.parse(decodeURIComponent(raw));
  } catch (error) {
    decoded = String(error);
  }
  equal("GetUserPolicy.PolicyDocument decodes to the document", decoded, inlinePolicy);
  equal("GetUserPolicy names", [got.UserName, got.PolicyName], [userName, "e2e"]);

  // Nested shapes: a map (SummaryMap) and URL-encoded documents inside lists.
  const accountSummary = await root.send(new GetAccountSummaryCommand({}));
  equal("GetAccountSummary.SummaryMap.Users", accountSummary.SummaryMap?.Users, 1);
  check("GetAccountSummary.SummaryMap.UsersQuota is a number", typeof accountSummary.SummaryMap?.UsersQuota === "number",
    accountSummary.SummaryMap);
  const details = await root.send(new GetAccountAuthorizationDetailsCommand({ Filter: ["User"] }));
  const detail = (details.UserDetailList ?? []).find((u) => u.UserName === userName);
  equal("GetAccountAuthorizationDetails user", detail?.Arn, userArn);
  equal("GetAccountAuthorizationDetails empty lists", [detail?.GroupList, detail?.AttachedManagedPolicies], [[], []]);
  let detailDocument = null;
  try {
    detailDocument = JSON.parse(decodeURIComponent(detail?.UserPolicyList?.[0]?.PolicyDocument ?? ""));
  } catch (error) {
    detailDocument = String(error);
  }
  equal("GetAccountAuthorizationDetails inline document", detailDocument, inlinePolicy);
  recent("GetAccountAuthorizationDetails CreateDate is a Date", detail?.CreateDate);

  // Now the same calls are allowed.
  const users = await dev.send(new ListUsersCommand({}));
  check(
    "allowed ListUsers lists the user",
    (users.Users ?? []).some((u) => u.UserName === userName && u.Arn === userArn),
    users.Users,
  );
  equal("allowed ListUsers.IsTruncated", users.IsTruncated, false);
  const me = await dev.send(new GetUserCommand({}));
  equal("GetUser defaults to the caller", me.User?.Arn, userArn);
  recent("GetUser.CreateDate is a Date", me.User?.CreateDate);
  equal(
    "GetUser.CreateDate equals CreateUser's",
    me.User?.CreateDate?.toISOString(),
    created.User?.CreateDate?.toISOString(),
  );
  const ownTags = await dev.send(new ListUserTagsCommand({ UserName: userName }));
  equal("allowed ListUserTags", ownTags.Tags, [{ Key: "team", Value: "red + blue" }]);

  // Something the inline policy does not cover stays denied.
  const other = errorShape(await failure(dev.send(new ListAccessKeysCommand({ UserName: userName }))));
  equal("ListAccessKeys still denied", other?.name, "AccessDenied");

  // The SDK's paginator follows Marker, one user per page.
  for (const name of ["js-page-a", "js-page-b"]) await root.send(new CreateUserCommand({ UserName: name }));
  const paged = [];
  let pages = 0;
  for await (const page of paginateListUsers({ client: dev, pageSize: 1 }, {})) {
    pages += 1;
    paged.push(...(page.Users ?? []).map((u) => u.UserName));
    if (pages > 20) break;
  }
  equal("paginateListUsers(pageSize 1) users", [...paged].sort(), ["js-dev", "js-page-a", "js-page-b"]);
  check("paginateListUsers made one request per user", pages >= 3 && pages <= 4, { pages });

  summary.ok = checks.every((c) => c.ok);
}

try {
  await main();
} catch (error) {
  summary.ok = false;
  summary.error = { ...errorShape(error), stack: error?.stack };
}
console.log(JSON.stringify(summary, null, 2));
process.exit(summary.ok ? 0 : 1);
