# pragma version 0.4.3
"""
@title instructions
@notice Transfer instructions (协议转让) with consent and notice — one mechanism
        for two laws — and their settlement, free of payment or delivery versus
        payment against an ERC-20 cash token (资金映射).
        - LLC shares to an outsider (Company Law art 84): the other shareholders
          may exercise a right of first refusal during a 30-day notice period
          (20 days for a court-ordered sale, art 85); silence waives; those who
          exercise buy on the same terms, pro rata to their holdings.
        - Fund interests (Partnership Law arts 22–23, 73): the manager consents;
          a notice period with the same first-refusal shape where the fund's
          agreement grants it.
@dev Stages: PROPOSED → (buyer accepted, manager consented, notice over) →
     SETTLED; or REJECTED (manager) / WITHDRAWN (seller) / lapsed (not settled
     by `expiry_day`, read from the clock, nobody acts). Settlement re-checks
     every transfer rule of ledger.vy at that moment; the ledger's last two
     refusals ("needs consent", "needs notice") are exactly what an instruction
     supplies, so they are accepted here and nothing else is.
     Cash: the buyer escrows the price on acceptance, each exerciser escrows
     the full price on exercise; at settlement the seller is paid and what is
     not due comes back as a pull refund. `escrowed[token]` always equals the
     register's balance of that token and what it owes: open escrows (the
     buyer's and each exerciser's price, the best bid of each open listing)
     plus credited refunds. Every cash movement is measured (the register's
     balance before and after): a token that moves another amount than asked
     (fee on transfer) is refused, as is one that returns false; one that
     returns nothing is accepted (USDT-style). Every state-changing function of
     this module and of auctions.vy holds the one re-entrancy lock (slot 0 of
     Register's storage under london, the same slot in every desk), so a
     token's callback cannot re-enter a settlement. docs/pause-and-escrow.md.
"""

from ethereum.ercs import IERC20

from . import roles
from . import calendar
from . import ledger

uses: roles
uses: calendar
uses: ledger

# stages
PROPOSED: constant(uint8) = 1
SETTLED: constant(uint8) = 2
REJECTED: constant(uint8) = 3
WITHDRAWN: constant(uint8) = 4
LAPSED: constant(uint8) = 5  # only ever reported by stage_of

NOTICE_DAYS: constant(uint256) = 30
COURT_NOTICE_DAYS: constant(uint256) = 20
# days an instruction may wait for settlement after its notice period
SETTLEMENT_DAYS: constant(uint256) = 30
# most shareholders who may exercise the right of first refusal on one instruction
MAX_EXERCISERS: constant(uint256) = 50


struct Instruction:
    seller: address
    buyer: address
    id: uint256
    units: uint256
    price: uint256
    cash: address
    doc: bytes32
    stage: uint8
    court_ordered: bool
    buyer_accepted: bool
    consented: bool
    notice_end_day: uint256
    expiry_day: uint256


# Instructions by id (ids run from 1).
instruction_of: public(HashMap[uint256, Instruction])
# Number of instructions ever proposed.
instruction_count: public(uint256)
# Shareholders who exercised the right of first refusal, per instruction.
exercisers: HashMap[uint256, DynArray[address, MAX_EXERCISERS]]
# Cash tokens governance accepts for delivery versus payment.
cash_tokens: public(HashMap[address, bool])
# Cash the register holds per token: open escrows plus unclaimed refunds.
escrowed: public(HashMap[address, uint256])
# Refunds waiting to be pulled: token => holder => amount.
refunds: public(HashMap[address, HashMap[address, uint256]])


event CashTokenSet:
    token: indexed(address)
    accepted: bool
    actor: indexed(address)
    doc: bytes32

event InstructionProposed:
    instruction_id: indexed(uint256)
    seller: indexed(address)
    buyer: indexed(address)
    id: uint256
    units: uint256
    price: uint256
    cash: address
    court_ordered: bool
    notice_end_day: uint256
    expiry_day: uint256
    actor: address
    doc: bytes32

event InstructionAccepted:
    instruction_id: indexed(uint256)
    buyer: indexed(address)
    escrowed: uint256
    doc: bytes32

event InstructionConsented:
    instruction_id: indexed(uint256)
    manager: indexed(address)
    doc: bytes32

event InstructionRejected:
    instruction_id: indexed(uint256)
    actor: indexed(address)
    doc: bytes32

event InstructionWithdrawn:
    instruction_id: indexed(uint256)
    actor: indexed(address)
    doc: bytes32

event InstructionLapsed:
    instruction_id: indexed(uint256)
    actor: indexed(address)
    doc: bytes32

event FirstRefusalExercised:
    instruction_id: indexed(uint256)
    holder: indexed(address)
    escrowed: uint256
    doc: bytes32

event InstructionSettled:
    instruction_id: indexed(uint256)
    receiver: indexed(address)
    units: uint256
    paid: uint256
    actor: address
    doc: bytes32

event RefundCredited:
    token: indexed(address)
    holder: indexed(address)
    amount: uint256
    doc: bytes32

event RefundClaimed:
    token: indexed(address)
    holder: indexed(address)
    amount: uint256
    doc: bytes32


@external
@nonreentrant
def set_cash_token(token: address, accepted: bool, doc: bytes32):
    """
    @notice Accept (or stop accepting) an ERC-20 cash token for delivery versus payment.
    @param token A bank deposit or mapped-funds token.
    @param accepted Whether new instructions may use it.
    @param doc Reference (hash) of the decision.
    """
    roles._check_governance()
    assert token.is_contract, "instructions: cash token is not a contract"
    self.cash_tokens[token] = accepted
    log CashTokenSet(token=token, accepted=accepted, actor=msg.sender, doc=doc)


@external
@nonreentrant
def propose_transfer(buyer: address, id: uint256, units: uint256, price: uint256, cash: address, doc: bytes32):
    """
    @notice The seller proposes to transfer `units` of `id` to `buyer` for
            `price` (a reference for free of payment; the amount of `cash`
            tokens for delivery versus payment).
    @param buyer The buyer.
    @param id The security id.
    @param units Smallest units.
    @param price Total price in the cash token's smallest units (or a reference).
    @param cash The ERC-20 cash token, or the zero address for free of payment.
    @param doc Reference (hash) of the transfer agreement.
    """
    self._propose(msg.sender, buyer, id, units, price, cash, False, doc)


@external
@nonreentrant
def propose_court_sale(seller: address, buyer: address, id: uint256, units: uint256, price: uint256, cash: address, doc: bytes32):
    """
    @notice The court agent proposes a court-ordered sale of `seller`'s units:
            the notice period to the other shareholders is 20 days (art 85).
    @param seller The holder whose units the court sells.
    @param buyer The buyer.
    @param id The security id.
    @param units Smallest units.
    @param price Total price.
    @param cash The cash token, or the zero address for free of payment.
    @param doc Reference (hash) of the ruling.
    """
    roles._check_role(roles.Role.COURT_AGENT)
    self._propose(seller, buyer, id, units, price, cash, True, doc)


@external
@nonreentrant
def accept_transfer(instruction_id: uint256, doc: bytes32):
    """
    @notice The buyer accepts; for delivery versus payment it escrows the price.
    @param instruction_id The instruction.
    @param doc Reference (hash) of the acceptance.
    """
    ins: Instruction = self._open(instruction_id)
    assert msg.sender == ins.buyer, "instructions: caller is not the buyer"
    assert not ins.buyer_accepted, "instructions: already accepted"
    self.instruction_of[instruction_id].buyer_accepted = True
    if ins.cash != empty(address):
        self._escrow(ins.cash, msg.sender, ins.price)
    log InstructionAccepted(
        instruction_id=instruction_id, buyer=msg.sender, escrowed=ins.price if ins.cash != empty(address) else 0, doc=doc
    )


@external
@nonreentrant
def consent_transfer(instruction_id: uint256, doc: bytes32):
    """
    @notice The fund manager consents to a fund-share transfer.
    @param instruction_id The instruction.
    @param doc Reference (hash) of the consent.
    """
    ins: Instruction = self._open(instruction_id)
    roles._check_security_role(ins.id, roles.SecurityRole.FUND_MANAGER)
    assert not ins.consented, "instructions: already consented"
    self.instruction_of[instruction_id].consented = True
    log InstructionConsented(instruction_id=instruction_id, manager=msg.sender, doc=doc)


@external
@nonreentrant
def reject_transfer(instruction_id: uint256, doc: bytes32):
    """
    @notice The fund manager refuses consent; escrowed cash becomes refundable.
    @param instruction_id The instruction.
    @param doc Reference (hash) of the refusal.
    """
    ins: Instruction = self._open(instruction_id)
    roles._check_security_role(ins.id, roles.SecurityRole.FUND_MANAGER)
    self.instruction_of[instruction_id].stage = REJECTED
    self._refund_all(instruction_id, ins, doc)
    log InstructionRejected(instruction_id=instruction_id, actor=msg.sender, doc=doc)


@external
@nonreentrant
def withdraw_transfer(instruction_id: uint256, doc: bytes32):
    """
    @notice The seller (or the court agent, for a court sale) withdraws before
            settlement; escrowed cash becomes refundable.
    @param instruction_id The instruction.
    @param doc Reference (hash) of the withdrawal.
    """
    ins: Instruction = self._open(instruction_id)
    if ins.court_ordered:
        roles._check_role(roles.Role.COURT_AGENT)
    else:
        assert msg.sender == ins.seller, "instructions: caller is not the seller"
    self.instruction_of[instruction_id].stage = WITHDRAWN
    self._refund_all(instruction_id, ins, doc)
    log InstructionWithdrawn(instruction_id=instruction_id, actor=msg.sender, doc=doc)


@external
@nonreentrant
def exercise_first_refusal(instruction_id: uint256, doc: bytes32):
    """
    @notice Another holder of the security exercises the right of first refusal
            during the notice period: it buys on the same terms, pro rata with
            any others who exercise. For delivery versus payment it escrows the
            full price; what it does not owe is refunded at settlement.
    @param instruction_id The instruction.
    @param doc Reference (hash) of the exercise notice.
    """
    ins: Instruction = self._open(instruction_id)
    assert ins.notice_end_day != 0, "instructions: no right of first refusal"
    assert calendar._today() <= ins.notice_end_day, "instructions: notice period over"
    assert msg.sender != ins.seller and msg.sender != ins.buyer, "instructions: not another holder"
    assert ledger._balance(msg.sender, ins.id) != 0, "instructions: not another holder"
    assert msg.sender not in self.exercisers[instruction_id], "instructions: already exercised"
    assert len(self.exercisers[instruction_id]) < MAX_EXERCISERS, "instructions: too many exercisers"
    self.exercisers[instruction_id].append(msg.sender)
    if ins.cash != empty(address):
        self._escrow(ins.cash, msg.sender, ins.price)
    log FirstRefusalExercised(
        instruction_id=instruction_id, holder=msg.sender, escrowed=ins.price if ins.cash != empty(address) else 0, doc=doc
    )


@external
@nonreentrant
def settle_transfer(instruction_id: uint256, doc: bytes32):
    """
    @notice Settle: units to the buyer (or pro rata to the holders who exercised
            first refusal) and cash to the seller, in one transaction or not at
            all, every transfer rule re-checked now. Free of payment needs the
            registrar, who confirms the payment made off chain (`doc`).
    @param instruction_id The instruction.
    @param doc Reference (hash) of the settlement (payment confirmation for free of payment).
    """
    ins: Instruction = self._open(instruction_id)
    today: uint256 = calendar._today()
    if ins.cash == empty(address):
        roles._check_role(roles.Role.SECURITY_MANAGER)
    else:
        assert msg.sender == ins.seller or msg.sender == ins.buyer or roles.Role.SECURITY_MANAGER in roles.roles_of[msg.sender], "instructions: caller may not settle"
    assert today > ins.notice_end_day or ins.notice_end_day == 0, "instructions: notice period not over"
    kind: uint256 = (ledger.security_data[ins.id] >> ledger.KIND_SHIFT) & ledger.BYTE_MASK
    assert kind < ledger.LP_FUND or ins.consented, "instructions: manager has not consented"
    self.instruction_of[instruction_id].stage = SETTLED
    # an exerciser who has sold out since is no longer a shareholder: it buys
    # nothing and its escrow comes back whole; the others share pro rata
    takers: DynArray[address, MAX_EXERCISERS] = []
    total: uint256 = 0
    for holder: address in self.exercisers[instruction_id]:
        held: uint256 = ledger._balance(holder, ins.id)
        if held == 0:
            self._credit(ins.cash, holder, ins.price, doc)
        else:
            takers.append(holder)
            total += held
    if len(takers) == 0:
        assert ins.buyer_accepted, "instructions: buyer has not accepted"
        self._deliver(ins, ins.buyer, ins.units, ins.price, instruction_id, doc)
        return
    # first refusal exercised: the outsider gets nothing back but its escrow
    if ins.buyer_accepted:
        self._credit(ins.cash, ins.buyer, ins.price, doc)
    units_left: uint256 = ins.units
    price_left: uint256 = ins.price
    for i: uint256 in range(MAX_EXERCISERS):
        if i >= len(takers):
            break
        holder: address = takers[i]
        units: uint256 = units_left
        paid: uint256 = price_left
        if i + 1 < len(takers):
            units = ins.units * ledger._balance(holder, ins.id) // total
            paid = ins.price * units // ins.units
        # every taker holds units, so the shares before the last sum to less than
        # ins.units: the last taker receives at least one unit and the rest of the price
        units_left -= units
        price_left -= paid
        self._credit(ins.cash, holder, ins.price - paid, doc)  # escrowed the full price
        if units != 0:
            self._deliver(ins, holder, units, paid, instruction_id, doc)


@external
@nonreentrant
def claim_refund(token: address, doc: bytes32):
    """
    @notice Pull the caller's refunds of a cash token (losing bids, refused,
            withdrawn or lapsed instructions, first-refusal excess).
    @dev Runs while the register is paused: the money is already owed to the caller.
    @param token The cash token.
    @param doc Reference (hash) of the claim.
    """
    amount: uint256 = self.refunds[token][msg.sender]
    assert amount != 0, "instructions: nothing to refund"
    self.refunds[token][msg.sender] = 0
    self._pay(token, msg.sender, amount)
    log RefundClaimed(token=token, holder=msg.sender, amount=amount, doc=doc)


@external
@nonreentrant
def reclaim_lapsed(instruction_id: uint256, doc: bytes32):
    """
    @notice Anyone may release the escrow of a lapsed instruction into refunds.
    @dev Runs while the register is paused: the instruction lapsed by the clock,
         and its escrow is already owed back to those who paid it.
    @param instruction_id The instruction.
    @param doc Reference (hash) of the request.
    """
    ins: Instruction = self.instruction_of[instruction_id]
    assert ins.stage == PROPOSED and calendar._today() > ins.expiry_day, "instructions: not lapsed"
    self.instruction_of[instruction_id].stage = LAPSED
    self._refund_all(instruction_id, ins, doc)
    log InstructionLapsed(instruction_id=instruction_id, actor=msg.sender, doc=doc)


@external
@view
def stage_of(instruction_id: uint256) -> uint8:
    """
    @notice The instruction's stage now: 1 proposed, 2 settled, 3 rejected,
            4 withdrawn, 5 lapsed (0 unknown). Lapse needs no actor.
    """
    ins: Instruction = self.instruction_of[instruction_id]
    if ins.stage == PROPOSED and calendar._today() > ins.expiry_day:
        return LAPSED
    return ins.stage


@external
@view
def exercisers_of(instruction_id: uint256) -> DynArray[address, MAX_EXERCISERS]:
    """
    @notice Holders who exercised first refusal on an instruction, in order.
    """
    return self.exercisers[instruction_id]


@internal
def _propose(seller: address, buyer: address, id: uint256, units: uint256, price: uint256, cash: address, court: bool, doc: bytes32):
    assert not calendar._paused(), "instructions: paused"
    assert buyer != empty(address), "instructions: zero address"
    assert buyer != seller, "instructions: buyer is the seller"
    assert units != 0, "instructions: zero amount"
    sec: uint256 = ledger.security_data[id]
    assert sec & ledger.BYTE_MASK != 0, "instructions: unknown security"
    assert units <= ledger._balance(seller, id), "instructions: amount exceeds holding"
    assert cash == empty(address) or self.cash_tokens[cash], "instructions: cash token not accepted"
    today: uint256 = calendar._today()
    notice_end: uint256 = 0
    # first refusal: where the terms grant it and the buyer is an outsider
    if sec & ledger.ROFR_BIT != 0 and ledger._balance(buyer, id) == 0:
        notice_end = today + (COURT_NOTICE_DAYS if court else NOTICE_DAYS)
    expiry: uint256 = max(notice_end, today) + SETTLEMENT_DAYS
    iid: uint256 = self.instruction_count + 1
    self.instruction_count = iid
    self.instruction_of[iid] = Instruction(
        seller=seller,
        buyer=buyer,
        id=id,
        units=units,
        price=price,
        cash=cash,
        doc=doc,
        stage=PROPOSED,
        court_ordered=court,
        buyer_accepted=False,
        consented=False,
        notice_end_day=notice_end,
        expiry_day=expiry,
    )
    log InstructionProposed(
        instruction_id=iid,
        seller=seller,
        buyer=buyer,
        id=id,
        units=units,
        price=price,
        cash=cash,
        court_ordered=court,
        notice_end_day=notice_end,
        expiry_day=expiry,
        actor=msg.sender,
        doc=doc,
    )


@internal
@view
def _open(instruction_id: uint256) -> Instruction:
    ins: Instruction = self.instruction_of[instruction_id]
    assert ins.stage != 0, "instructions: unknown instruction"
    assert ins.stage == PROPOSED, "instructions: instruction closed"
    assert calendar._today() <= ins.expiry_day, "instructions: instruction lapsed"
    assert not calendar._paused(), "instructions: paused"
    return ins


@internal
def _deliver(ins: Instruction, receiver: address, units: uint256, paid: uint256, instruction_id: uint256, doc: bytes32):
    """
    @dev Units from the seller under every transfer rule, cash from escrow to the seller.
    """
    now: uint256 = ledger._clock_now()
    code: uint256 = 0
    sec: uint256 = 0
    sh: uint256 = 0
    rh: uint256 = 0
    code, sec, sh, rh = ledger._check(ins.seller, receiver, ins.id, units, now)
    # consent is what settlement supplies (checked by settle_transfer), and notice
    # where this instruction gave it; every other refusal stands
    if code == ledger.R_NEEDS_NOTICE and ins.notice_end_day == 0:
        raise ledger._reason(code)  # the receiver became an outsider, or the terms changed, after the proposal
    if code != ledger.OK and code != ledger.R_NEEDS_CONSENT and code != ledger.R_NEEDS_NOTICE:
        raise ledger._reason(code)
    ledger._apply(ins.seller, receiver, ins.id, units, now, sec, sh, rh)
    if ins.cash != empty(address):
        self._pay(ins.cash, ins.seller, paid)
    log InstructionSettled(instruction_id=instruction_id, receiver=receiver, units=units, paid=paid, actor=msg.sender, doc=doc)


@internal
def _escrow(token: address, payer: address, amount: uint256):
    """
    @dev Take `amount` of `token` from `payer` into escrow, measuring what arrived.
         The caller holds the re-entrancy lock, so no other escrow can arrive
         between the two balance reads.
    """
    before: uint256 = staticcall IERC20(token).balanceOf(self)
    assert extcall IERC20(token).transferFrom(payer, self, amount, default_return_value=True), "instructions: cash transfer failed"
    assert staticcall IERC20(token).balanceOf(self) == before + amount, "instructions: cash token moved a wrong amount"
    self.escrowed[token] += amount


@internal
def _pay(token: address, receiver: address, amount: uint256):
    """
    @dev Pay `amount` of `token` out of escrow to `receiver`, measuring what left.
    """
    if amount == 0:
        return
    self.escrowed[token] -= amount
    before: uint256 = staticcall IERC20(token).balanceOf(self)
    assert extcall IERC20(token).transfer(receiver, amount, default_return_value=True), "instructions: cash transfer failed"
    assert staticcall IERC20(token).balanceOf(self) + amount == before, "instructions: cash token moved a wrong amount"


@internal
def _credit(token: address, holder: address, amount: uint256, doc: bytes32):
    # the amount stays in `escrowed` until claimed; free of payment credits nothing
    if amount == 0 or token == empty(address):
        return
    self.refunds[token][holder] += amount
    log RefundCredited(token=token, holder=holder, amount=amount, doc=doc)


@internal
def _refund_all(instruction_id: uint256, ins: Instruction, doc: bytes32):
    if ins.buyer_accepted:
        self._credit(ins.cash, ins.buyer, ins.price, doc)
    for holder: address in self.exercisers[instruction_id]:
        self._credit(ins.cash, holder, ins.price, doc)
