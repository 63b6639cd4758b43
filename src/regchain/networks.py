"""Network profiles: what regchain must know of a chain to write to it well.

A profile names the chain's clock unit, the gas price its transactions carry, whether its
JSON-RPC takes batch arrays, how many transactions of one sender its pool holds, its block
gas limit and chain id (docs/consortium-profiles.md). The `consortium` network of
ape-config.yaml takes its profile from REGCHAIN_PROFILE (or a command's --profile); the
local networks are anvils ("anvil").

    profile_for(network_name, env) -> Profile
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

PROFILE_ENV = "REGCHAIN_PROFILE"
POOL_ENV = "REGCHAIN_POOL_PER_SENDER"  # overrides the profile's per-sender pool limit


@dataclass(frozen=True)
class Profile:
    name: str
    # the chain id the node must report (None: whatever it reports; ape checks the network's)
    chain_id: int | None
    # block.timestamp in milliseconds (FISCO BCOS): the suite is deployed with time_unit_ms
    time_unit_ms: bool
    # the gas price every transaction carries, legacy type 0 (never eth_gasPrice's answer)
    gas_price: int = 0
    # JSON-RPC batch arrays: True, False (pipelined single requests), None (probe once)
    batches: bool | None = None
    # transactions of one sender the node's pool holds: the write window
    pool_per_sender: int = 400
    # the block gas limit when the node does not say (it is read from the latest block)
    block_gas_limit: int = 30_000_000
    # anvil_*/evm_*/txpool_* may be used (only if the node also answers anvil_getAutomine)
    devnet: bool = False
    # seconds between blocks (how long the writer waits before it looks again)
    block_time_s: float = 1.0

    def with_env(self, env=None) -> "Profile":
        env = os.environ if env is None else env
        pool = env.get(POOL_ENV, "").strip()
        return replace(self, pool_per_sender=int(pool)) if pool.isdigit() and int(pool) > 0 else self


PROFILES = {
    # anvil (local, devnet, the test networks): batches, automine or driven mining
    "anvil": Profile("anvil", None, False, gas_price=0, batches=True, pool_per_sender=400, devnet=True,
                     block_time_s=0.0),
    # Hyperledger Besu with QBFT: gas price 0 (min-gas-price 0), batch arrays, a layered pool
    # that refuses a nonce more than --tx-pool-max-future-by-sender (200) ahead of the sender's
    "besu-qbft": Profile("besu-qbft", 1337, False, gas_price=0, batches=True, pool_per_sender=200),
    # FISCO BCOS 3.9+ Ethereum JSON-RPC: one request object per call (no batch arrays),
    # block.timestamp in milliseconds, chain id 20200 by default, gas price 0
    "fisco-bcos-3": Profile("fisco-bcos-3", 20200, True, gas_price=0, batches=False, pool_per_sender=1000),
}


class ProfileError(ValueError):
    """An unknown profile name (one line)."""


def profile(name: str, env=None) -> Profile:
    try:
        return PROFILES[name].with_env(env)
    except KeyError:
        raise ProfileError(f"{PROFILE_ENV}={name!r}: unknown network profile "
                           f"(known: {', '.join(sorted(PROFILES))})") from None


def profile_for(network_name: str | None, env=None, name: str | None = None) -> Profile:
    """The profile of `network_name`: `name` if given, else $REGCHAIN_PROFILE on the
    `consortium` network (default besu-qbft), else anvil's."""
    env = os.environ if env is None else env
    if name:
        return profile(name, env)
    if network_name == "consortium":
        return profile(env.get(PROFILE_ENV, "").strip() or "besu-qbft", env)
    return profile(env.get(PROFILE_ENV, "").strip() or "anvil", env)
