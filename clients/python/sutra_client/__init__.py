"""sutra_client - Python client of the Sutra knowledge-graph server (MessagePack over TCP).

    from sutra_client import SutraClient
    with SutraClient("127.0.0.1", 50051) as c:
        cid = c.learn_concept_v2("The Eiffel Tower is in Paris")
        print(c.query_concept(cid))
"""

from .client import (
    REQUESTS,
    RESPONSES,
    SutraClient,
    SutraError,
    SutraProtocolError,
    encode_request,
    parse_reply,
    unpack,
)

__all__ = [
    "REQUESTS",
    "RESPONSES",
    "SutraClient",
    "SutraError",
    "SutraProtocolError",
    "encode_request",
    "parse_reply",
    "unpack",
]
__version__ = "0.1.0"
