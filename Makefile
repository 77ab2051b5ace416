# Set-up, demo and test entry points. `make demo` and `make test` are the README's two commands.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
WORK := $(CURDIR)/.tmp
COLLECTIONS := $(WORK)/collections
COPY := $(COLLECTIONS)/ansible_collections/opskite/buildkite
WITH_SIMULATOR := $(BIN)/python $(CURDIR)/tests/utils/with_simulator.py
ANSIBLE_TEST := $(BIN)/ansible-test
ANSIBLE_TEST_ARGS := --local --python 3.11 --color no

export ANSIBLE_NOCOLOR := 1
export ANSIBLE_FORCE_COLOR := 0

.PHONY: help venv demo test sanity units simulator-tests integration release-checks integration-installed lint collection ansible-test-pip clean

help:
	@echo "make demo    install everything into .venv, start the Buildkite simulator, run the demo playbook"
	@echo "make test    install everything, then run sanity, unit, simulator, integration and lint checks"
	@echo "Parts of make test: sanity, units, simulator-tests, reliability, integration, molecule,"
	@echo "release-checks, integration-installed, lint; make reliability-docs rewrites docs/reliability.md"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	@echo "=== Installing the tools into .venv (pip's output goes to .venv/pip.log)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q -U pip > $(VENV)/pip.log 2>&1 || { tail -n 40 $(VENV)/pip.log; exit 1; }
	@$(BIN)/python -m pip install -q -r requirements-dev.txt >> $(VENV)/pip.log 2>&1 || { tail -n 40 $(VENV)/pip.log; exit 1; }
	@touch $@

# ansible-test needs the collection at .../ansible_collections/opskite/buildkite and resolves
# symbolic links, so it runs on a copy. The copy includes .git so that .gitignore still applies.
collection: venv
	@rm -rf $(COLLECTIONS) && mkdir -p $(COPY)
	@tar -C $(CURDIR) --exclude=./.venv --exclude=./.ansible --exclude=./tests/output --exclude=./.tmp -cf - . \
		| tar -C $(COPY) -xf -

# ansible-test downloads a get-pip script for its venvs from a host outside the package
# registries; it uses a cached copy first, so put an offline stand-in there unless one exists.
ansible-test-pip: venv
	@version=$$($(BIN)/python tests/utils/ansible_test_pip_version.py); \
	cache=$$HOME/.ansible/test/cache/get_pip_$${version//./_}.py; \
	if [ ! -e "$$cache" ]; then mkdir -p "$$(dirname "$$cache")" && cp tests/utils/get_pip_offline.py "$$cache"; fi

# The demo playbook runs twice against one simulator: the second run shows that nothing changes.
demo: venv collection
	@echo "=== Running playbooks/demo.yml twice against the Buildkite simulator"
	@cd $(CURDIR) && ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $(WITH_SIMULATOR) --scenario demo -- bash -c \
		'$(BIN)/ansible-playbook -i localhost, -e demo_poll_interval=1 -e demo_log_dir=$(WORK) playbooks/demo.yml \
		&& echo "=== The same playbook again: nothing left to change" \
		&& $(BIN)/ansible-playbook -i localhost, -e demo_poll_interval=1 -e demo_log_dir=$(WORK) playbooks/demo.yml'

sanity: collection ansible-test-pip
	@echo "=== ansible-test sanity"
	@cd $(COPY) && PATH=$(BIN):$$PATH $(ANSIBLE_TEST) sanity $(ANSIBLE_TEST_ARGS)

units: collection
	@echo "=== ansible-test units"
	@cd $(COPY) && PATH=$(BIN):$$PATH $(ANSIBLE_TEST) units $(ANSIBLE_TEST_ARGS)

simulator-tests: venv
	@echo "=== Simulator tests"
	@PYTHONPATH=$(CURDIR)/tests/simulator $(BIN)/python -m pytest -q -p no:cacheprovider tests/simulator/tests

# The reliability suite: every plugin under injected faults, lost responses, bad input, token
# hygiene and load, in-process against one simulator per pytest worker. Its results render
# docs/reliability.md; the page in the repository must match them.
RELIABILITY := $(WORK)/reliability
.PHONY: reliability reliability-docs reliability-results
reliability-results: venv
	@echo "=== Reliability suite (tests/reliability)"
	@rm -rf $(RELIABILITY) && mkdir -p $(RELIABILITY)/results $(RELIABILITY)/path/ansible_collections/opskite
	@ln -s $(CURDIR) $(RELIABILITY)/path/ansible_collections/opskite/buildkite
	@cd $(CURDIR) && RELIABILITY_RESULTS=$(RELIABILITY)/results PYTHONPATH=$(RELIABILITY)/path \
		$(BIN)/python -m pytest -q -p no:cacheprovider -n auto --dist loadgroup tests/reliability
	@$(BIN)/python tests/reliability/render_report.py $(RELIABILITY)/results $(RELIABILITY)/reliability.md

reliability: reliability-results
	@if ! diff -u docs/reliability.md $(RELIABILITY)/reliability.md; then \
		echo "docs/reliability.md does not match the suite's results; run make reliability-docs and commit it"; \
		exit 1; fi
	@echo "docs/reliability.md matches the suite's results"

reliability-docs: reliability-results
	@cp $(RELIABILITY)/reliability.md docs/reliability.md
	@echo "Wrote docs/reliability.md"

integration: collection
	@echo "=== ansible-test integration, against the Buildkite simulator"
	@cd $(COPY) && PATH=$(BIN):$$PATH $(WITH_SIMULATOR) --scenario retry \
		--integration-config $(COPY)/tests/integration/integration_config.yml -- \
		$(ANSIBLE_TEST) integration $(ANSIBLE_TEST_ARGS)

# The deploy_gate role against the simulator: one scenario whose deploy passes, one whose deploy
# fails. molecule installs the collection into $ANSIBLE_HOME/collections, so a scratch
# ANSIBLE_HOME under .tmp keeps that copy out of ~/.ansible, where it would shadow this tree.
# molecule 26 logs "CRITICAL 'extensions/molecule/default/molecule.yml' glob failed" because
# there is no default scenario, and carries on.
.PHONY: molecule
molecule: venv
	@echo "=== molecule: the deploy_gate role, against the Buildkite simulator"
	@echo "=== (in deploy_gate_failed_deploy, the role's [ERROR] lines are the expected failures)"
	@rm -rf $(WORK)/molecule-home
	@cd $(CURDIR) && ANSIBLE_HOME=$(WORK)/molecule-home PATH=$(BIN):$$PATH \
		$(BIN)/molecule test -s deploy_gate -s deploy_gate_failed_deploy

# The checks Ansible Galaxy and the docs site apply: build the tarball, import it with
# galaxy-importer (which exits 0 on warnings, so any WARNING or ERROR line fails here), and lint
# the plugin docs and the changelog fragments.
release-checks: venv
	@echo "=== ansible-galaxy collection build + galaxy-importer"
	@rm -rf $(WORK)/dist && mkdir -p $(WORK)/dist
	@$(BIN)/ansible-galaxy collection build --force --output-path $(WORK)/dist . > /dev/null
	@cd $(WORK)/dist && PATH=$(BIN):$$PATH $(BIN)/python -m galaxy_importer.main *.tar.gz > importer.log 2>&1 \
		|| { cat importer.log; exit 1; }
	@if grep -Eq '^(WARNING|ERROR)' $(WORK)/dist/importer.log \
		|| ! grep -q 'Importer processing completed successfully' $(WORK)/dist/importer.log; then \
		cat $(WORK)/dist/importer.log; echo "galaxy-importer reported problems"; exit 1; fi
	@echo "galaxy-importer: no warnings or errors"
	@echo "=== antsibull-docs lint-collection-docs, antsibull-changelog lint"
	@PATH=$(BIN):$$PATH $(BIN)/antsibull-docs lint-collection-docs --plugin-docs .
	@$(BIN)/antsibull-changelog lint

# The integration targets once more, against the collection installed from the tarball that
# release-checks built, so a file missing from the tarball fails. The install goes outside the
# repository: inside it, ansible-test would list files with git and skip the ignored .tmp.
integration-installed: release-checks
	@echo "=== ansible-test integration, against the collection installed from the tarball"
	@installed=$$(mktemp -d); trap 'rm -rf "$$installed"' EXIT; \
	$(BIN)/ansible-galaxy collection install --force -p "$$installed" $(WORK)/dist/*.tar.gz > /dev/null; \
	cd "$$installed/ansible_collections/opskite/buildkite" && PATH=$(BIN):$$PATH $(BIN)/python tests/utils/with_simulator.py \
		--scenario retry --integration-config tests/integration/integration_config.yml -- \
		$(ANSIBLE_TEST) integration $(ANSIBLE_TEST_ARGS)

lint: venv
	@echo "=== ansible-lint (production profile)"
	@PATH=$(BIN):$$PATH $(BIN)/ansible-lint --profile production --nocolor
	@echo "=== ruff"
	@$(BIN)/ruff check --no-cache .
	@$(BIN)/ruff format --no-cache --check .

test: venv sanity units simulator-tests reliability integration molecule release-checks integration-installed lint
	@echo "=== make test: all checks passed"

clean:
	rm -rf $(WORK) tests/output .ansible

# Benchmarks against the simulator; not part of make test. Writes docs/benchmarks.md in about 7 to 10 minutes.
.PHONY: bench
bench: venv
	@echo "=== Benchmarks against the Buildkite simulator (writes docs/benchmarks.md)"
	@cd $(CURDIR) && $(BIN)/python benchmarks/run.py --json .tmp/benchmarks.json
