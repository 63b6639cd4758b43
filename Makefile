# regchain — build, test and local-node targets.
# Works on a fresh clone: `make test` creates .venv (pinned Python deps, constraints.txt) and .tools
# (anvil from npm) on first use; later runs reuse them (stamp files).

SHELL := /bin/bash
.DEFAULT_GOAL := test

PYTHON        ?= python3.11
ANVIL_VERSION ?= 1.7.1

VENV       := .venv
VENV_STAMP := $(VENV)/.regchain-installed
TOOLS      := .tools

UNAME_S := $(shell uname -s | tr '[:upper:]' '[:lower:]')
UNAME_M := $(shell uname -m)
ANVIL_ARCH := $(if $(filter x86_64 amd64,$(UNAME_M)),amd64,arm64)
ANVIL_BIN_DIR := $(CURDIR)/$(TOOLS)/node_modules/@foundry-rs/anvil-$(UNAME_S)-$(ANVIL_ARCH)/bin
ANVIL_STAMP   := $(TOOLS)/.anvil-$(ANVIL_VERSION)-installed

# ape-foundry finds `anvil` on PATH; ape-vyper uses the pinned pip `vyper` only if it is on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(ANVIL_BIN_DIR):$(PATH)
export ANVIL := $(ANVIL_BIN_DIR)/anvil

NODE      := $(PYTHON) src/regchain/node.py
DEVNET    := ethereum:devnet:node

.PHONY: setup system constraints compile router test test-deep node node-stop demo deploy audit bench sample console clean distclean

setup: $(VENV_STAMP) $(ANVIL_STAMP)

# The package with its test extra (pytest, hypothesis, titanoboa: tests and bench), every
# version held to constraints.txt, the set CI ran.
$(VENV_STAMP): pyproject.toml constraints.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]' -c constraints.txt
	@touch $@

# Rewrite constraints.txt from what .venv holds now (after a deliberate upgrade).
constraints: setup
	{ echo "# pip constraints: the versions CI ran (make constraints rewrites this from .venv)"; \
	  $(VENV)/bin/python -m pip freeze --exclude-editable | grep -v '^regchain=='; } > constraints.txt

$(ANVIL_STAMP):
	@mkdir -p $(TOOLS)
	npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error @foundry-rs/anvil@$(ANVIL_VERSION)
	@test -x $(ANVIL) || { echo "anvil binary not found at $(ANVIL)" >&2; exit 1; }
	@touch $@

# ape-vyper does not see edits to imported modules (contracts/modules is excluded
# from compilation as standalone contracts), so any .vy change rebuilds from clean.
VY_SOURCES  := $(shell find contracts -name '*.vy')
BUILD_STAMP := .build/.regchain-sources

$(BUILD_STAMP): $(VY_SOURCES) ape-config.yaml | setup
	rm -rf .build
	ape compile
	@touch $@

compile: setup $(BUILD_STAMP)

# Register's routing table (the generated block in contracts/Register.vy) from the desks'
# ABIs: run after adding, removing or moving a desk function, then `make compile`.
router: setup
	$(VENV)/bin/python -m regchain.router

# System packages the tests drive (Debian names): Chromium and CJK fonts for the console's
# browser test (tests/test_console.py), PostgreSQL's initdb/pg_ctl for the indexer's database
# (tests/pg_cluster.py). Installed with apt-get when missing and run as root; otherwise one
# line names what to install.
SYSTEM_PACKAGES ?= chromium fonts-noto-cjk postgresql

system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done | xargs); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $$missing (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "the tests need these system packages: $$missing (as root: apt-get install $$missing)" >&2; exit 1; \
	  fi; \
	fi

# PYTHONPATH: the tests import this checkout's src/ even where the venv's editable install
# points at another checkout of the project (a shared venv)
test: setup system $(BUILD_STAMP)
	PYTHONPATH=$(CURDIR)/src HYPOTHESIS_PROFILE=quick ape test tests -q

test-deep: setup system $(BUILD_STAMP)
	PYTHONPATH=$(CURDIR)/src HYPOTHESIS_PROFILE=deep ape test tests -q

node: $(ANVIL_STAMP)
	@$(NODE) start

node-stop:
	@$(NODE) stop

# The demo migrates a generated export dated today (one per day: a new day brings new
# codes, the same day re-runs idempotently), then reports to the supervisory chain: the
# operator's books (.node/books.sqlite: the demo's holders and securities, the migrated
# export's) name every subject, and `supervise sync` writes, seals, stores (.node/supervise)
# and anchors the snapshots of every step not yet reported (docs/demo.md). The operator's
# secret and SM2 key for the devnet live in .node/ (never in the repository); set
# REGCHAIN_OPERATOR_SECRET to use your own secret.
DEMO_DAY    := $(shell date +%Y%m%d)
DEMO_SAMPLE := samples/demo-$(DEMO_DAY)
DEMO_SECRET := .node/operator-secret
DEMO_SM2KEY := .node/operator-sm2.key
DEMO_SM2PUB := .node/operator-sm2.pub
DEMO_BOOKS  := .node/books.sqlite
DEMO_STORE  := .node/supervise
DEMO_ENV    := REGCHAIN_OPERATOR_SECRET=$${REGCHAIN_OPERATOR_SECRET:-$$(cat $(DEMO_SECRET))}

demo: setup $(BUILD_STAMP) node
	@test -s $(DEMO_SECRET) || $(VENV)/bin/python -c "import secrets; print(secrets.token_hex(32))" > $(DEMO_SECRET)
	@test -s $(DEMO_SM2KEY) || $(VENV)/bin/python -c "import secrets; print(secrets.token_hex(32))" > $(DEMO_SM2KEY)
	@test -s $(DEMO_SM2PUB) || $(VENV)/bin/python -c "from regchain.supervise.seal import Signer; \
		print(Signer.from_file('$(DEMO_SM2KEY)').public_hex)" > $(DEMO_SM2PUB)
	ape run supervise operator --books $(DEMO_BOOKS) --name 示例股权托管交易中心 --uscc 91310000MA1K30XK55 --namespace rc-20231
	$(DEMO_ENV) ape run demo --network $(DEVNET) --books $(DEMO_BOOKS)
	@test -d $(DEMO_SAMPLE) || $(VENV)/bin/python -m regchain.legacy.synth --out $(DEMO_SAMPLE) \
		--seed $(DEMO_DAY) --securities 8 --dirty 0.15 --encoding gbk --headers zh
	$(DEMO_ENV) ape run migrate --source $(DEMO_SAMPLE) --report $(DEMO_SAMPLE)-report.json --network $(DEVNET) \
		--books $(DEMO_BOOKS)
	ape run supervise sync --network $(DEVNET) --books $(DEMO_BOOKS) --store $(DEMO_STORE) --key $(DEMO_SM2KEY)

deploy: setup $(BUILD_STAMP) node
	ape run deploy --network $(DEVNET)

# The web console over the devnet (docs/console.md): follows the chain into .cache/index.sqlite
# and serves http://127.0.0.1:8600; names from the newest migration report in samples/, if any.
# The first start creates the users operator and regulator (passwords in .node/console-passwords.txt).
CONSOLE_PORT ?= 8600
console: setup $(BUILD_STAMP) node
	$(VENV)/bin/python -m regchain.console serve --network devnet --port $(CONSOLE_PORT) \
		$$(r=$$(ls -t samples/*-report.json 2>/dev/null | head -1); test -n "$$r" && echo --report $$r) \
		$$(test -f $(DEMO_BOOKS) && echo --books $(DEMO_BOOKS))

# Rebuild the devnet's register from its events and compare it with contract state.
audit: setup $(BUILD_STAMP) node
	ape run audit --network $(DEVNET)

bench: setup $(BUILD_STAMP)
	ape run bench -v WARNING

# A small synthetic legacy export (GBK, Chinese headers, some dirty rows) for the
# migration: regchain.legacy.synth, dated today. SAMPLE=dir to write elsewhere.
SAMPLE ?= samples/demo
sample: setup
	$(VENV)/bin/python -m regchain.legacy.synth --out $(SAMPLE) --seed 1 --securities 12 --dirty 0.15 --encoding gbk --headers zh

clean:
	rm -rf .build .cache .hypothesis bench/results.json deployments/local.json
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -not -path './$(TOOLS)/*' -prune -exec rm -rf {} +

# Also stop the devnet and drop the toolchain (.venv, .tools) and the devnet state (.node).
distclean: clean node-stop
	rm -rf $(VENV) $(TOOLS) .node src/*.egg-info
