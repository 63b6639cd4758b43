"""Reporting to the supervisory chain (监管链): the data objects of the cross-chain business data
model (区域性股权市场跨链业务数据模型 2.0.0), validated, sealed (SM2/SM3), stored, anchored, served.

One module per job:
- ``books``: the operator's off-chain books (SQLite): names, id numbers, codes, document numbers;
- ``schema/``: the model's JSON Schema (draft-06), transcribed from the field reference;
- ``validate``: the schema with format checking plus the checks the schema cannot make;
- ``seal``: canonical bytes, SM3 digest, SM2 signature (``header.seal``);
- ``store``: ``DIR/objects/<object_id>/<version>.json`` plus a SQLite index;
- ``generate``: chain events -> snapshots, per the mapping table (``MAPPING``);
- ``anchor``: the Anchor contract's ``SnapshotAnchored`` logs;
- ``serve``: the regulator's pull interface; ``verify``: the regulator's check.

See docs/supervision.md.
"""


class SuperviseError(Exception):
    """A supervisory step cannot go on; the message is one line naming the problem."""
