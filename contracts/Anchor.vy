# pragma version 0.4.3
"""
@title Anchor
@notice Anchors (存证, JR/T 0314 Appendix E) of the supervisory snapshots the operator stores
        off chain: one SnapshotAnchored log per snapshot, many snapshots per transaction.
        The regulator fetches a snapshot by (object_id, version), recomputes its SM3 digest
        and compares it with the anchor's.
@dev Only an account holding SECURITY_MANAGER on the Register (the registrar's back office)
     may anchor: the role is read from the Register's roles_of by a static call, so the
     Register's role administration stays the one source. Anchors live in logs only (no
     storage): a log costs a fraction of a storage word, and the regulator checks it
     against the block's receiptsRoot. Keeping anchors unique is the generator's job.
"""

interface Register:
    def roles_of(account: address) -> uint256: view


# roles.vy Role.SECURITY_MANAGER: registers securities and keeps their register
SECURITY_MANAGER: constant(uint256) = 2
# snapshots per transaction; a step or a block range is cut into batches of this size
MAX_BATCH: constant(uint256) = 256


struct Snapshot:
    object_id: String[128]
    version: uint256
    digest: bytes32
    business_tx: bytes32


event SnapshotAnchored:
    object_key: indexed(bytes32)
    object_id: String[128]
    version: uint256
    digest: bytes32
    business_tx: bytes32


# the Register whose roles decide who may anchor
REGISTER: public(immutable(address))


@deploy
def __init__(register: address):
    """
    @param register The Register whose roles_of decides who may anchor.
    """
    assert register.is_contract, "anchor: register is not a contract"
    REGISTER = register


@external
def anchor(snapshots: DynArray[Snapshot, MAX_BATCH]):
    """
    @notice Anchor stored snapshots: one SnapshotAnchored per item, in the given order.
    @dev object_key = keccak256(object_id), so the regulator can filter logs by object.
    @param snapshots (object_id, version, SM3 digest of the stored bytes, business transaction hash).
    """
    assert staticcall Register(REGISTER).roles_of(msg.sender) & SECURITY_MANAGER != 0, \
        "anchor: caller is not a security manager"
    assert len(snapshots) > 0, "anchor: no snapshots"
    for s: Snapshot in snapshots:
        assert s.digest != empty(bytes32), "anchor: empty digest"
        log SnapshotAnchored(object_key=keccak256(s.object_id), object_id=s.object_id, version=s.version,
                             digest=s.digest, business_tx=s.business_tx)
