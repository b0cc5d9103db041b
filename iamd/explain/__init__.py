"""The troubleshooter: why a request was denied, and the smallest safe fix (docs/troubleshooting.md).

* :mod:`.message` reads AWS's access-denied messages;
* :mod:`.subject` turns a request id, a message, a CloudTrail event or a hypothetical request
  into a :class:`Subject`;
* :mod:`.service` re-evaluates it with the policies in force now (the one policy loader) and
  as it was (:mod:`.replay`, from the policy history), and compares with what was recorded;
* :mod:`.checklist` walks AWS's access-denied checklist on the evaluation's trace, and
  :mod:`.credentials` explains a refused credential;
* :mod:`.fix` proposes the smallest fix and checks it by evaluating again;
* :mod:`.explanation` is the answer's shape and its one-line verdict;
* :mod:`.catalog` knows AWS's action names and condition keys (did you mean …?).

``iamd explain`` (the CLI) and ``POST /iamd/explain`` (the API) give the same answer.
"""

from .message import MessageError, ParsedDenial, parse_denial
from .service import Explainer, Explanation, subjects_for_request_id
from .subject import InputError, Subject, decompressed, from_event, from_message, hypothetical, read_events

__all__ = [
    "Explainer",
    "Explanation",
    "InputError",
    "MessageError",
    "ParsedDenial",
    "Subject",
    "from_event",
    "from_message",
    "hypothetical",
    "parse_denial",
    "decompressed",
    "read_events",
    "subjects_for_request_id",
]
