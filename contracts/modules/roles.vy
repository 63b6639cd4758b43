# pragma version 0.4.3
"""
@title roles
@notice Who may do what on the register: one governance address (two-step
        hand-over) and, per address, a set of role flags, one per permissioned
        action. Roles tied to one security (issuer agent, fund manager) are kept
        per security id.
@dev The Python mirrors of these flags are `regchain.constants.Role` and
     `regchain.constants.SecurityRole`; keep them in step.
"""

# Global roles. Bit i of the flag value is the i-th member (1, 2, 4, ...).
flag Role:
    ACCOUNT_MANAGER    # open, suspend, reactivate, close accounts; qualification
    SECURITY_MANAGER   # register securities, initial registration, capital changes, lock-ups
    CALENDAR_MANAGER   # publish and amend the trading calendar
    RECOVERY_MANAGER   # move a lost key's holdings to a new address
    COURT_AGENT        # judicial freezes and court-ordered transfers

# Roles held for one security id.
flag SecurityRole:
    ISSUER_AGENT       # register-closing windows (meetings, record dates), insider list
    FUND_MANAGER       # fund-share consents (fund securities)

# The governance address: grants and revokes roles, pauses.
governance: public(address)
# The address named by governance to take over; it must accept.
pending_governance: public(address)
# Global role flags of each address.
roles_of: public(HashMap[address, Role])
# Per-security role flags: security id => address => flags.
security_roles: public(HashMap[uint256, HashMap[address, SecurityRole]])


event GovernanceTransferStarted:
    current: indexed(address)
    pending: indexed(address)
    doc: bytes32

event GovernanceTransferred:
    previous: indexed(address)
    current: indexed(address)
    doc: bytes32

event RoleGranted:
    account: indexed(address)
    role: Role
    actor: indexed(address)
    doc: bytes32

event RoleRevoked:
    account: indexed(address)
    role: Role
    actor: indexed(address)
    doc: bytes32

event SecurityRoleGranted:
    id: indexed(uint256)
    account: indexed(address)
    role: SecurityRole
    actor: indexed(address)
    doc: bytes32

event SecurityRoleRevoked:
    id: indexed(uint256)
    account: indexed(address)
    role: SecurityRole
    actor: indexed(address)
    doc: bytes32


@deploy
def __init__(governance: address):
    assert governance != empty(address), "roles: zero address"
    self.governance = governance
    log GovernanceTransferred(previous=empty(address), current=governance, doc=empty(bytes32))


@external
def transfer_governance(pending: address, doc: bytes32):
    """
    @notice Start handing governance to `pending`; it takes effect when
            `pending` calls `accept_governance`.
    @dev Naming the zero address cancels a pending hand-over.
    @param pending The address that is to become governance.
    @param doc Reference (hash) of the board's resolution.
    """
    self._check_governance()
    self.pending_governance = pending
    log GovernanceTransferStarted(current=msg.sender, pending=pending, doc=doc)


@external
def accept_governance(doc: bytes32):
    """
    @notice Complete a governance hand-over; only the pending address may call.
    @param doc Reference (hash) of the acceptance.
    """
    assert msg.sender == self.pending_governance, "roles: caller is not pending governance"
    previous: address = self.governance
    self.governance = msg.sender
    self.pending_governance = empty(address)
    log GovernanceTransferred(previous=previous, current=msg.sender, doc=doc)


@external
def grant_role(account: address, role: Role, doc: bytes32):
    """
    @notice Grant global role flags to `account` (added to what it has).
    @param account The address receiving the roles.
    @param role One or more role flags.
    @param doc Reference (hash) of the decision.
    """
    self._check_governance()
    assert account != empty(address), "roles: zero address"
    assert role != empty(Role), "roles: no role given"
    self.roles_of[account] |= role
    log RoleGranted(account=account, role=role, actor=msg.sender, doc=doc)


@external
def revoke_role(account: address, role: Role, doc: bytes32):
    """
    @notice Revoke global role flags from `account`.
    @param account The address losing the roles.
    @param role One or more role flags.
    @param doc Reference (hash) of the decision.
    """
    self._check_governance()
    assert role != empty(Role), "roles: no role given"
    self.roles_of[account] &= ~role
    log RoleRevoked(account=account, role=role, actor=msg.sender, doc=doc)


@external
def grant_security_role(id: uint256, account: address, role: SecurityRole, doc: bytes32):
    """
    @notice Grant per-security role flags for security `id` to `account`.
    @param id The security id.
    @param account The address receiving the roles.
    @param role One or more per-security role flags.
    @param doc Reference (hash) of the decision.
    """
    self._check_governance()
    assert account != empty(address), "roles: zero address"
    assert role != empty(SecurityRole), "roles: no role given"
    self.security_roles[id][account] |= role
    log SecurityRoleGranted(id=id, account=account, role=role, actor=msg.sender, doc=doc)


@external
def revoke_security_role(id: uint256, account: address, role: SecurityRole, doc: bytes32):
    """
    @notice Revoke per-security role flags for security `id` from `account`.
    @param id The security id.
    @param account The address losing the roles.
    @param role One or more per-security role flags.
    @param doc Reference (hash) of the decision.
    """
    self._check_governance()
    assert role != empty(SecurityRole), "roles: no role given"
    self.security_roles[id][account] &= ~role
    log SecurityRoleRevoked(id=id, account=account, role=role, actor=msg.sender, doc=doc)


@internal
@view
def _check_governance():
    assert msg.sender == self.governance, "roles: caller is not governance"


@internal
@view
def _check_role(role: Role):
    if role in self.roles_of[msg.sender]:
        return
    if role == Role.ACCOUNT_MANAGER:
        raise "roles: caller is not account manager"
    if role == Role.SECURITY_MANAGER:
        raise "roles: caller is not security manager"
    if role == Role.CALENDAR_MANAGER:
        raise "roles: caller is not calendar manager"
    if role == Role.RECOVERY_MANAGER:
        raise "roles: caller is not recovery manager"
    if role == Role.COURT_AGENT:
        raise "roles: caller is not court agent"
    # every caller names one role, so this is never reached; were it, it says so
    raise "roles: unknown role"


@internal
@view
def _check_security_role(id: uint256, role: SecurityRole):
    if role in self.security_roles[id][msg.sender]:
        return
    if role == SecurityRole.ISSUER_AGENT:
        raise "roles: caller is not issuer agent"
    if role == SecurityRole.FUND_MANAGER:
        raise "roles: caller is not fund manager"
    raise "roles: unknown role"
