# pragma version 0.4.3
"""
@title accounts
@notice Investor accounts (基础账户管理): an address with a salted identity
        hash, an investor class and a qualified-investor flag. No personal data
        is kept on chain.
@dev One packed word per account, so a transfer reads each party in one slot:
     bits 0..7 status, 8..15 investor class, bit 16 qualified.
"""

from . import roles
from . import calendar

uses: roles
uses: calendar

BYTE_MASK: constant(uint256) = 255

# account status
UNOPENED: constant(uint256) = 0
ACTIVE: constant(uint256) = 1
SUSPENDED: constant(uint256) = 2
CLOSED: constant(uint256) = 3

# investor class
INDIVIDUAL: constant(uint256) = 1
INSTITUTION: constant(uint256) = 2
PRODUCT: constant(uint256) = 3

QUALIFIED_SHIFT: constant(uint256) = 16
QUALIFIED_BIT: constant(uint256) = 1 << QUALIFIED_SHIFT
# Most accounts one batch may open (fits a 30M-gas block with margin).
MAX_BATCH: constant(uint256) = 200


struct NewAccount:
    wallet: address
    identity: bytes32
    investor_class: uint8
    qualified: bool


struct AccountView:
    status: uint8
    investor_class: uint8
    qualified: bool
    identity: bytes32


# Packed account word of each address (layout above).
account_data: HashMap[address, uint256]
# Salted hash of the holder's identity (never the identity itself).
identity_of: public(HashMap[address, bytes32])


event AccountOpened:
    wallet: indexed(address)
    identity: bytes32
    investor_class: uint8
    qualified: bool
    actor: indexed(address)
    doc: bytes32

event AccountStatusChanged:
    wallet: indexed(address)
    status: uint8
    actor: indexed(address)
    doc: bytes32

event AccountQualificationChanged:
    wallet: indexed(address)
    qualified: bool
    actor: indexed(address)
    doc: bytes32

event AccountRecovered:
    old_wallet: indexed(address)
    new_wallet: indexed(address)
    actor: indexed(address)
    doc: bytes32


@external
def open_account(wallet: address, identity: bytes32, investor_class: uint8, qualified: bool, doc: bytes32):
    """
    @notice Open an account for `wallet`.
    @param wallet The holder's address (own wallet or custody address).
    @param identity Salted hash of the holder's identity.
    @param investor_class 1 individual, 2 institution, 3 product.
    @param qualified Whether the holder is a qualified investor.
    @param doc Reference (hash) of the account-opening document.
    """
    roles._check_role(roles.Role.ACCOUNT_MANAGER)
    assert not calendar._paused(), "accounts: paused"
    self._open(wallet, identity, investor_class, qualified, doc)


@external
def open_accounts(batch: DynArray[NewAccount, 256], doc: bytes32):
    """
    @notice Open many accounts in one transaction (migration, bulk opening).
    @param batch The accounts to open; at most MAX_BATCH.
    @param doc Reference (hash) of the batch's document.
    """
    roles._check_role(roles.Role.ACCOUNT_MANAGER)
    assert not calendar._paused(), "accounts: paused"
    assert len(batch) != 0, "accounts: empty batch"
    assert len(batch) <= MAX_BATCH, "accounts: batch too large"
    for a: NewAccount in batch:
        self._open(a.wallet, a.identity, a.investor_class, a.qualified, doc)


@external
def suspend_account(wallet: address, doc: bytes32):
    """
    @notice Suspend an active account: it can neither send nor receive.
    @param wallet The account.
    @param doc Reference (hash) of the decision.
    """
    self._set_status(wallet, ACTIVE, SUSPENDED, "accounts: account not active", doc)


@external
def reactivate_account(wallet: address, doc: bytes32):
    """
    @notice Reactivate a suspended account.
    @param wallet The account.
    @param doc Reference (hash) of the decision.
    """
    self._set_status(wallet, SUSPENDED, ACTIVE, "accounts: account not suspended", doc)


@external
def close_account(wallet: address, doc: bytes32):
    """
    @notice Close an account for good; a closed account neither sends nor
            receives, and only recovery can move what it still holds.
    @param wallet The account (active or suspended).
    @param doc Reference (hash) of the closing document.
    """
    roles._check_role(roles.Role.ACCOUNT_MANAGER)
    assert not calendar._paused(), "accounts: paused"
    data: uint256 = self.account_data[wallet]
    status: uint256 = data & BYTE_MASK
    assert status != UNOPENED, "accounts: unknown account"
    assert status != CLOSED, "accounts: account closed"
    self.account_data[wallet] = (data & ~BYTE_MASK) | CLOSED
    log AccountStatusChanged(wallet=wallet, status=convert(CLOSED, uint8), actor=msg.sender, doc=doc)


@external
def set_qualified(wallet: address, qualified: bool, doc: bytes32):
    """
    @notice Record whether the holder is a qualified investor.
    @param wallet The account (not closed).
    @param qualified The new qualification.
    @param doc Reference (hash) of the assessment.
    """
    roles._check_role(roles.Role.ACCOUNT_MANAGER)
    assert not calendar._paused(), "accounts: paused"
    data: uint256 = self.account_data[wallet]
    status: uint256 = data & BYTE_MASK
    assert status != UNOPENED, "accounts: unknown account"
    assert status != CLOSED, "accounts: account closed"
    assert (data & QUALIFIED_BIT != 0) != qualified, "accounts: qualification unchanged"
    self.account_data[wallet] = data ^ QUALIFIED_BIT
    log AccountQualificationChanged(wallet=wallet, qualified=qualified, actor=msg.sender, doc=doc)


@external
@view
def account_of(wallet: address) -> AccountView:
    """
    @notice An account's status (0 none, 1 active, 2 suspended, 3 closed),
            investor class, qualification and identity hash.
    @param wallet The account.
    """
    data: uint256 = self.account_data[wallet]
    return AccountView(
        status=convert(data & BYTE_MASK, uint8),
        investor_class=convert((data >> 8) & BYTE_MASK, uint8),
        qualified=data & QUALIFIED_BIT != 0,
        identity=self.identity_of[wallet],
    )


@internal
def _open(wallet: address, identity: bytes32, investor_class: uint8, qualified: bool, doc: bytes32):
    assert wallet != empty(address), "accounts: zero address"
    assert identity != empty(bytes32), "accounts: zero identity"
    investor: uint256 = convert(investor_class, uint256)
    # 1 <= class <= 3 in one comparison (class 0 wraps around)
    assert unsafe_sub(investor, INDIVIDUAL) <= PRODUCT - INDIVIDUAL, "accounts: unknown investor class"
    assert self.account_data[wallet] == 0, "accounts: account exists"
    # without a branch: the qualified bit is the flag shifted into place
    self.account_data[wallet] = ACTIVE | (investor << 8) | (convert(qualified, uint256) << QUALIFIED_SHIFT)
    self.identity_of[wallet] = identity
    log AccountOpened(
        wallet=wallet, identity=identity, investor_class=investor_class, qualified=qualified, actor=msg.sender, doc=doc
    )


@internal
def _set_status(wallet: address, expected: uint256, status: uint256, refusal: String[40], doc: bytes32):
    roles._check_role(roles.Role.ACCOUNT_MANAGER)
    assert not calendar._paused(), "accounts: paused"
    data: uint256 = self.account_data[wallet]
    current: uint256 = data & BYTE_MASK
    assert current != UNOPENED, "accounts: unknown account"
    assert current == expected, refusal
    self.account_data[wallet] = (data & ~BYTE_MASK) | status
    log AccountStatusChanged(wallet=wallet, status=convert(status, uint8), actor=msg.sender, doc=doc)


@internal
def _recover(old: address, new: address, doc: bytes32):
    """
    @dev Make `new` the account of `old`'s holder: a fresh `new` takes over
         old's record (status included) and `old` is closed; an existing `new` must carry the
         same identity (a recovery continued over several transactions).
    """
    old_data: uint256 = self.account_data[old]
    assert old_data != 0, "accounts: unknown account"
    assert new != empty(address), "accounts: zero address"
    assert new != old, "accounts: recovery to the same address"
    if self.account_data[new] == 0:
        identity: bytes32 = self.identity_of[old]
        # the holder keeps its status (a suspension survives a lost key);
        # the holdings of a closed account come back to an active one
        status: uint256 = old_data & BYTE_MASK
        if status == CLOSED:
            status = ACTIVE
        self.account_data[new] = (old_data & ~BYTE_MASK) | status
        self.identity_of[new] = identity
        self.account_data[old] = (old_data & ~BYTE_MASK) | CLOSED
        log AccountRecovered(old_wallet=old, new_wallet=new, actor=msg.sender, doc=doc)
        log AccountStatusChanged(wallet=old, status=convert(CLOSED, uint8), actor=msg.sender, doc=doc)
    else:
        assert self.identity_of[new] == self.identity_of[old], "accounts: recovery target has another identity"
