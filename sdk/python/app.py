"""A Portico authorizer in Python: the `authorizer-core` world of wit/ (portico:plugin@0.1.0: the authorizer export without host capabilities, which componentize-py would otherwise import whether used or not), built
into a component by componentize-py (see build.sh).

`authorize(request)` gets the WIT `request-head` as a dataclass (`request.headers`,
`request.query`, ... are lists of `(name, value)` tuples) and returns the `decision` variant:
`Decision_Allow(Allow(principal_id, context, usage_identifier_key))`, `Decision_Unauthorized()`,
`Decision_Forbidden(message_or_None)` or `Decision_Custom(Reply(...))`.

Tokens are fixed here (no config): `authorization: py-allow` allows principal `py-user`,
`py-deny` is forbidden, anything else (or no header) is unauthorized.

To use a host capability, target a world of your own that includes `authorizer-core` and imports it.
"""

from typing import Optional

import wit_world
from wit_world import (
    Allow,
    Decision,
    Decision_Allow,
    Decision_Forbidden,
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

    def authorize(self, request: RequestHead) -> Decision:
        token = header(request, "authorization")
        if token == "py-allow":
            return Decision_Allow(
                Allow(principal_id="py-user", context=[("scope", "read")], usage_identifier_key=None)
            )
        if token == "py-deny":
            return Decision_Forbidden(None)
        return Decision_Unauthorized()
