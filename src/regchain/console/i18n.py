"""The console's words in Chinese and English (?lang=zh|en, kept in a cookie; Chinese by default)."""

from __future__ import annotations

LANGS = ("zh", "en")

WORDS = {
    # navigation and page titles
    "app": ("区域性股权市场登记簿", "Regional equity register"),
    "securities": ("证券", "Securities"), "accounts": ("账户", "Accounts"),
    "in_progress": ("进行中的指令与挂牌", "Instructions and listings in progress"),
    "history": ("事件记录", "Event history"), "register": ("持有人名册", "Register of holders"),
    "holdings": ("持仓", "Holdings"), "pledges": ("质押", "Pledges"), "freezes": ("冻结", "Freezes"),
    "instructions": ("转让指令", "Transfer instructions"), "listings": ("挂牌竞价", "Listings"),
    "ownership": ("持股比例", "Ownership"), "holder_count": ("持有人数变化", "Holders over time"),
    "login": ("登录", "Log in"), "logout": ("退出", "Log out"), "user": ("用户名", "User"),
    "password": ("密码", "Password"), "bad_login": ("用户名或密码错误", "Wrong user or password"),
    "search": ("搜索", "Search"), "search_hint": ("代码或名称", "code or name"),
    "account_hint": ("账户号、名称或地址", "account number, name or address"),
    "as_of": ("日期", "As of"), "today": ("今日", "today"), "show": ("查看", "Show"),
    "export": ("导出", "Export"), "all": ("全部", "all"), "role": ("角色", "Role"),
    "operator": ("登记机构", "operator"), "regulator": ("监管查询", "regulator (reader)"),
    "chain_day": ("链上日期", "Chain day"), "block": ("区块", "Block"), "lag": ("落后区块", "blocks behind"),
    "none": ("无", "none"), "not_found": ("未找到", "Not found"), "others": ("其他", "others"),
    "unit_note": ("数量以该证券的计量单位显示", "Amounts in the security's unit"),
    "past_note": ("历史日期：质押与冻结为该日最后一次变动时的数额",
                  "Past day: pledged and frozen as at each holding's last change that day or before"),
    "first_refusal": ("优先购买权", "First refusal"), "yes": ("是", "yes"), "no": ("否", "no"),
    "names_hidden": ("本角色不显示持有人姓名", "Holder names are not shown to this role"),
    # columns
    "id": ("编号", "Id"), "code": ("代码", "Code"), "name": ("名称", "Name"), "kind": ("类型", "Kind"),
    "status": ("状态", "Status"), "holders": ("持有人数", "Holders"), "supply": ("总量", "Supply"),
    "declared": ("登记总额", "Declared"), "account_no": ("账户号", "Account"), "holder": ("持有人", "Holder"),
    "address": ("地址", "Address"), "balance": ("持有数量", "Balance"), "share": ("比例", "Share"),
    "paid": ("实缴", "Paid-in"), "pledged": ("质押", "Pledged"), "frozen": ("冻结", "Frozen"),
    "free": ("可用", "Free"), "lock_until": ("限售至", "Locked until"), "date": ("日期", "Date"),
    "event": ("事件", "Event"), "category": ("类别", "Category"), "details": ("内容", "Details"),
    "doc": ("文件哈希", "Document hash"), "tx": ("交易", "Transaction"), "class": ("投资者类型", "Class"),
    "qualified": ("合格投资者", "Qualified"), "acquired": ("取得日", "Acquired"), "pledge": ("质押号", "Pledge"),
    "rank": ("顺位", "Rank"), "pledgor": ("出质人", "Pledgor"), "pledgee": ("质权人", "Pledgee"),
    "units": ("数量", "Units"), "freeze": ("冻结号", "Freeze"), "queue": ("轮候顺序", "Queue"),
    "expiry": ("到期日", "Expiry"), "case_hash": ("案号哈希", "Case hash"), "instruction": ("指令号", "Instruction"),
    "seller": ("卖方", "Seller"), "buyer": ("买方", "Buyer"), "price": ("价款", "Price"), "stage": ("阶段", "Stage"),
    "accepted": ("买方已接受", "Accepted"), "consented": ("已同意", "Consented"), "listing": ("挂牌号", "Listing"),
    "reserve": ("底价", "Reserve"), "best_bid": ("最高出价", "Best bid"), "bids": ("出价次数", "Bids"),
    "end": ("截止日", "Ends"),
}


def words(lang: str) -> dict[str, str]:
    i = LANGS.index(lang) if lang in LANGS else 0
    return {k: v[i] for k, v in WORDS.items()}
