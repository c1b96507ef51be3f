"""A Portico authorizer in Python: the `authorizer-core` world of wit/ (portico:plugin@0.1.3: the authorizer export without host capabilities, which componentize-py would otherwise import whether used or not), built
into a component by componentize-py (see build.sh).

`authorize(request, method_arn)` gets the WIT `request-head` as a dataclass (`request.headers`,
`request.query`, ... are lists of `(name, value)` tuples) and this request's method ARN, and
returns the `decision` variant: `Decision_Allow(Allow(principal_id, context,
usage_identifier_key))`, `Decision_Unauthorized()`, `Decision_Forbidden(message_or_None)`,
`Decision_Custom(Reply(...))` or `Decision_LambdaOutput(json.dumps(lambda_result))`.

`Decision_LambdaOutput` is how Lambda authorizer code ports unchanged: return what the Lambda
returned (`principalId`, `policyDocument`, `context`, `usageIdentifierKey`, or an HTTP API simple
response `{"isAuthorized": ..., "context": ...}`), and the gateway evaluates the policy against
each request's method ARN.

Tokens are fixed here (no config): `authorization: py-allow` allows principal `py-user`,
`py-policy` returns a policy allowing this method only, `py-deny` is forbidden, anything else (or
no header) is unauthorized.

To use a host capability, target a world of your own that includes `authorizer-core` and imports it.
"""

import json
from typing import Optional

import wit_world
from wit_world import (
    Allow,
    Decision,
    Decision_Allow,
    Decision_Forbidden,
    Decision_LambdaOutput,
    Decision_Unauthorized,
)
from wit_world.imports.types import RequestHead


def header(request: RequestHead, name: str) -> Optional[str]:
    """The first value of header `name`, whatever its case."""
    wanted = name.lower()
    for key, value in request.headers:
        if key.lower() == wanted:
            return value
    return None


class WitWorld(wit_world.WitWorld):
    """The exported `authorizer` world."""

    def authorize(self, request: RequestHead, method_arn: str) -> Decision:
        token = header(request, "authorization")
        if token == "py-policy":
            output = {
                "principalId": "py-user",
                "policyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": method_arn}
                    ],
                },
                "context": {"scope": "read", "level": 2, "admin": False},
            }
            return Decision_LambdaOutput(json.dumps(output))
        if token == "py-allow":
            return Decision_Allow(
                Allow(principal_id="py-user", context=[("scope", "read")], usage_identifier_key=None)
            )
        if token == "py-deny":
            return Decision_Forbidden(None)
        return Decision_Unauthorized()
