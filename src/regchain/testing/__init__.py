"""Test machinery, not the operator's code: the plain-Python model of the register (`model`),
the model-based state machine (`stateful`), drivers of the register for it (`backends`: raw
JSON-RPC on anvil, ape, py-evm through titanoboa), and the worst-case inputs the gas limits and
the benchmark measure (`worstcase`).
"""
