# pragma version 0.4.3
"""
@title calendar
@notice The trading calendar the registrar publishes ahead of time, the chain's
        clock in market days, and the pause switch.
@dev Days are counted from 1970-01-01 in market local time:
     day = (block.timestamp / TIME_UNIT + UTC_OFFSET) / 86400, where TIME_UNIT is
     1 for chains that count seconds and 1000 for FISCO BCOS's milliseconds.
     The calendar is a bitmap, 224 days to a storage word; the top 32 bits of a
     word hold the number of trading days published before it, so "trading-day
     number of day d" is one storage read and a popcount.
     The pause flag shares one storage slot with a cache of today's trading-day
     number: every transfer needs both, and one cold slot costs 2,100 gas, two
     cost 4,200.
"""

from . import roles

uses: roles

# Days in one calendar word; the remaining 32 bits hold the running count.
DAYS_PER_WORD: constant(uint256) = 224
DAY_BITS: constant(uint256) = (1 << 224) - 1
# Most days one publication may cover (a year and a margin).
MAX_PUBLISH_DAYS: constant(uint256) = 400
# Most calendar words an amendment may have to renumber after it.
MAX_AMEND_WORDS: constant(uint256) = 32
SECONDS_PER_DAY: constant(uint256) = 86400

# clock slot layout: bit 0 paused; bit 1 cache valid; bits 8..47 cached day;
# bits 48..87 trading-day number of the cached day. `_now` returns a word of
# the same layout ("now word"), bit 1 then meaning "today is published".
PAUSED_BIT: constant(uint256) = 1
CACHE_BIT: constant(uint256) = 2
MASK40: constant(uint256) = (1 << 40) - 1
NOW_PAUSED: constant(uint256) = 1
NOW_PUBLISHED: constant(uint256) = 2
DAY_SHIFT: constant(uint256) = 8
TN_SHIFT: constant(uint256) = 48
# popcount masks: 0x5555.., 0x3333.., 0x0f0f.., 0x0101..
M1: constant(uint256) = max_value(uint256) // 3
M2: constant(uint256) = max_value(uint256) // 5
M4: constant(uint256) = max_value(uint256) // 17
H01: constant(uint256) = max_value(uint256) // 255

# 1 where block.timestamp counts seconds, 1000 where it counts milliseconds.
TIME_UNIT: public(immutable(uint256))
# Offset of market local time from UTC in seconds (28800 for China).
UTC_OFFSET: public(immutable(uint256))

# Calendar words by index (day / 224): bit i set = day (index*224 + i) trades.
calendar_words: public(HashMap[uint256, uint256])
# First published day (days before it count as trading-day number 0).
epoch_day: public(uint256)
# Last published day; 0 until the first publication.
horizon_day: public(uint256)
# Pause flag and the cache of today's trading-day number (layout above).
clock: uint256


event CalendarPublished:
    first_day: uint256
    last_day: uint256
    trading_days: uint256
    actor: indexed(address)
    doc: bytes32

event CalendarAmended:
    day: indexed(uint256)
    trading: bool
    actor: indexed(address)
    doc: bytes32

event Paused:
    actor: indexed(address)
    doc: bytes32

event Unpaused:
    actor: indexed(address)
    doc: bytes32


@deploy
def __init__(time_unit_ms: bool, utc_offset_s: uint256):
    assert utc_offset_s < SECONDS_PER_DAY, "calendar: utc offset too large"
    TIME_UNIT = 1000 if time_unit_ms else 1
    UTC_OFFSET = utc_offset_s


@external
def publish_calendar(
    first_day: uint256,
    last_day: uint256,
    trading_days: DynArray[uint256, MAX_PUBLISH_DAYS],
    doc: bytes32,
):
    """
    @notice Publish the days `first_day`..`last_day` (inclusive); the days in
            `trading_days` trade, the others do not.
    @dev The first publication fixes the epoch; later ones must start the day
         after the published horizon, so the running counts stay exact.
    @param first_day First day covered (days since 1970-01-01, local time).
    @param last_day Last day covered.
    @param trading_days The trading days in the range, strictly increasing.
    @param doc Reference (hash) of the calendar notice.
    """
    roles._check_role(roles.Role.CALENDAR_MANAGER)
    assert not self._paused(), "calendar: paused"
    assert last_day >= first_day, "calendar: empty range"
    assert last_day - first_day < MAX_PUBLISH_DAYS, "calendar: range too long"
    assert last_day < (1 << 24), "calendar: day out of range"
    horizon: uint256 = self.horizon_day
    if horizon == 0:
        assert first_day > 0, "calendar: day out of range"
        self.epoch_day = first_day
    else:
        assert first_day == horizon + 1, "calendar: range must start after the horizon"

    first_word: uint256 = first_day // DAYS_PER_WORD
    last_word: uint256 = last_day // DAYS_PER_WORD
    # at most 3 words: 400 days span no more than three 224-day words
    bits: uint256[3] = empty(uint256[3])
    previous: uint256 = 0
    for d: uint256 in trading_days:
        assert d >= first_day and d <= last_day, "calendar: trading day outside range"
        assert d > previous, "calendar: trading days not increasing"
        previous = d
        bits[d // DAYS_PER_WORD - first_word] |= 1 << (d % DAYS_PER_WORD)

    for i: uint256 in range(3):
        w: uint256 = first_word + i
        if w > last_word:
            break
        existing: uint256 = self.calendar_words[w]
        count_before: uint256 = 0
        if horizon != 0 and w == horizon // DAYS_PER_WORD:
            # the horizon's word is partly published: keep its running count
            count_before = existing >> DAYS_PER_WORD
        elif w > self.epoch_day // DAYS_PER_WORD:
            prev_word: uint256 = self.calendar_words[w - 1]
            count_before = (prev_word >> DAYS_PER_WORD) + self._popcount(prev_word & DAY_BITS)
        self.calendar_words[w] = (count_before << DAYS_PER_WORD) | (existing & DAY_BITS) | bits[i]

    self.horizon_day = last_day
    log CalendarPublished(
        first_day=first_day, last_day=last_day, trading_days=len(trading_days), actor=msg.sender, doc=doc
    )


@external
def amend_calendar(day: uint256, trading: bool, doc: bytes32):
    """
    @notice Turn a published future day into a trading day or a holiday.
    @dev Only days after today can change, so no trading-day number already
         used by the register moves. Renumbers the words after it.
    @param day The day to amend.
    @param trading True if the day now trades.
    @param doc Reference (hash) of the notice.
    """
    roles._check_role(roles.Role.CALENDAR_MANAGER)
    assert not self._paused(), "calendar: paused"
    assert day > self._today(), "calendar: only future days can be amended"
    horizon: uint256 = self.horizon_day
    assert day <= horizon and day >= self.epoch_day, "calendar: day not published"
    w: uint256 = day // DAYS_PER_WORD
    last_word: uint256 = horizon // DAYS_PER_WORD
    assert last_word - w <= MAX_AMEND_WORDS, "calendar: amendment too far ahead"
    bit: uint256 = 1 << (day % DAYS_PER_WORD)
    word: uint256 = self.calendar_words[w]
    assert (word & bit != 0) != trading, "calendar: day already has that status"
    self.calendar_words[w] = word ^ bit
    for k: uint256 in range(1, MAX_AMEND_WORDS + 1):
        if w + k > last_word:
            break
        later: uint256 = self.calendar_words[w + k]
        if trading:
            later += 1 << DAYS_PER_WORD
        else:
            later -= 1 << DAYS_PER_WORD
        self.calendar_words[w + k] = later
    log CalendarAmended(day=day, trading=trading, actor=msg.sender, doc=doc)


@external
def pause(doc: bytes32):
    """
    @notice Stop every state change of the register (governance only).
    @param doc Reference (hash) of the decision.
    """
    roles._check_governance()
    assert not self._paused(), "calendar: already paused"
    self.clock |= PAUSED_BIT
    log Paused(actor=msg.sender, doc=doc)


@external
def unpause(doc: bytes32):
    """
    @notice Resume state changes (governance only).
    @param doc Reference (hash) of the decision.
    """
    roles._check_governance()
    assert self._paused(), "calendar: not paused"
    self.clock &= ~PAUSED_BIT
    log Unpaused(actor=msg.sender, doc=doc)


@external
@view
def paused() -> bool:
    """
    @notice Whether state changes are paused.
    """
    return self._paused()


@external
@view
def day_of(timestamp: uint256) -> uint256:
    """
    @notice The market-local day number (days since 1970-01-01) of a chain timestamp.
    @param timestamp A timestamp in the chain's unit (seconds or milliseconds).
    """
    return self._day_of(timestamp)


@external
@view
def today() -> uint256:
    """
    @notice Today's market-local day number.
    """
    return self._today()


@external
@view
def is_trading_day(day: uint256) -> bool:
    """
    @notice Whether a published day trades.
    @param day A day number.
    @return True if the day is published and trades.
    """
    if day < self.epoch_day or day > self.horizon_day:
        return False
    return self.calendar_words[day // DAYS_PER_WORD] & (1 << (day % DAYS_PER_WORD)) != 0


@external
@view
def trading_day_number(timestamp: uint256) -> uint256:
    """
    @notice The trading-day number of a timestamp: how many trading days from
            the calendar's epoch up to and including its day.
    @dev Reverts for a day beyond the published horizon.
    @param timestamp A timestamp in the chain's unit.
    """
    return self._trading_day_number(self._day_of(timestamp))


@external
@view
def trading_day_number_of_day(day: uint256) -> uint256:
    """
    @notice The trading-day number of a day number.
    @param day A day number.
    """
    return self._trading_day_number(day)


@internal
@view
def _paused() -> bool:
    return self.clock & PAUSED_BIT != 0


@internal
@view
def _day_of(timestamp: uint256) -> uint256:
    assert timestamp // TIME_UNIT <= max_value(uint256) - UTC_OFFSET, "calendar: timestamp out of range"
    return (timestamp // TIME_UNIT + UTC_OFFSET) // SECONDS_PER_DAY


@internal
@view
def _today() -> uint256:
    return (block.timestamp // TIME_UNIT + UTC_OFFSET) // SECONDS_PER_DAY


@internal
@view
def _is_published(day: uint256) -> bool:
    return self.horizon_day != 0 and day >= self.epoch_day and day <= self.horizon_day


@internal
@view
def _trading_day_number(day: uint256) -> uint256:
    if day < self.epoch_day:
        return 0
    assert day <= self.horizon_day, "calendar: day not published"
    word: uint256 = self.calendar_words[day // DAYS_PER_WORD]
    i: uint256 = day % DAYS_PER_WORD
    # i <= 223, so the mask of days 0..i cannot overflow
    two: uint256 = 2
    upto: uint256 = unsafe_sub(two << i, 1)
    return (word >> DAYS_PER_WORD) + self._popcount(word & upto)


@internal
@view
def _now_view() -> uint256:
    """
    @dev Today as one word, without touching storage: bit 0 paused, bit 1
         today published, bits 8..47 today's day number, bits 48..87 its
         trading-day number (0 when paused or unpublished). See NOW_*.
    """
    c: uint256 = self.clock
    if c & PAUSED_BIT != 0:
        return NOW_PAUSED
    # _today() inline: this runs on every transfer
    day: uint256 = (block.timestamp // TIME_UNIT + UTC_OFFSET) // SECONDS_PER_DAY
    if (c >> 8) & MASK40 == day and c & CACHE_BIT != 0:
        return c
    if not self._is_published(day):
        return day << 8
    return (self._trading_day_number(day) << 48) | (day << 8) | NOW_PUBLISHED


@internal
def _now() -> uint256:
    """
    @dev As `_now_view`, and refreshes the cache of today's number (the first
         state change of a day pays for the calendar read, later ones do not).
         The cache word has the same layout as the result.
    """
    c: uint256 = self.clock
    if c & PAUSED_BIT != 0:
        return NOW_PAUSED
    # _today() inline: this runs on every transfer
    day: uint256 = (block.timestamp // TIME_UNIT + UTC_OFFSET) // SECONDS_PER_DAY
    if (c >> 8) & MASK40 == day and c & CACHE_BIT != 0:
        return c
    if not self._is_published(day):
        return day << 8
    now: uint256 = (self._trading_day_number(day) << 48) | (day << 8) | NOW_PUBLISHED
    self.clock = now
    return now


@internal
@pure
def _popcount(x: uint256) -> uint256:
    # SWAR bit count; all steps stay within their lanes, and the final
    # multiply deliberately wraps (the count, at most 224, lands in the top byte).
    v: uint256 = unsafe_sub(x, (x >> 1) & M1)
    v = unsafe_add(
        v & M2,
        (v >> 2) & M2,
    )
    v = unsafe_add(v, v >> 4) & M4
    return unsafe_mul(v, H01) >> 248
