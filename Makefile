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

# MATRIX_VERSIONS, the Python for each, and SANITY_VERSION.
include tests/matrix/versions.mk
MATRIX_BIN = $(CURDIR)/.venv-$(1)/bin
# The major.minor version of the Python in a venv's bin folder, for ansible-test --python.
python_version = $$($(1)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')

.PHONY: help venv demo test sanity units simulator-tests integration release-checks tarball integration-installed lint \
	collection ansible-test-pip docs clean

help:
	@echo "make demo    install everything into .venv, start the Buildkite simulator, run the demo playbook"
	@echo "make test    install everything, then run sanity, unit, simulator, integration and lint checks"
	@echo "make docs    render the plugin docs and the user guide into a static site in .tmp/docs-site"
	@echo "Parts of make test: sanity, units, units-2.16, units-2.21, simulator-tests, reliability, molecule,"
	@echo "release-checks, integration-all (integration, integration-2.16, integration-2.21 side by side), lint, docs"
	@echo "make reliability-docs rewrites docs/reliability.md from the reliability suite's results"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	@echo "=== Installing the tools into .venv (pip's output goes to .venv/pip.log)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q -U pip > $(VENV)/pip.log 2>&1 || { tail -n 40 $(VENV)/pip.log; exit 1; }
	@$(BIN)/python -m pip install -q -r requirements-dev.txt >> $(VENV)/pip.log 2>&1 || { tail -n 40 $(VENV)/pip.log; exit 1; }
	@touch $@

# One venv per matrix version, made and reused like .venv: `make venv-2.16` makes .venv-2.16.
venv-%: $(CURDIR)/.venv-%/.installed ;

# All venvs side by side, since pip mostly waits on downloads when they are not cached.
.PHONY: venvs
venvs:
	@$(MAKE) --no-print-directory -j3 --output-sync=target venv $(addprefix venv-,$(MATRIX_VERSIONS))

.PRECIOUS: $(CURDIR)/.venv-%/.installed
$(CURDIR)/.venv-%/.installed: tests/matrix/requirements-%.txt tests/matrix/versions.mk
	@echo "=== Installing ansible-core $* and the test tools into .venv-$* (pip's output goes to .venv-$*/pip.log)"
	@python='$(MATRIX_PYTHON_$*)'; \
	if ! command -v "$$python" > /dev/null 2>&1; then \
		echo "Python for ansible-core $* not found: $$python. Install it, or set MATRIX_PYTHON_$*=<python>"; exit 1; fi; \
	"$$python" -m venv $(CURDIR)/.venv-$*
	@$(call MATRIX_BIN,$*)/python -m pip install -q -U pip > $(CURDIR)/.venv-$*/pip.log 2>&1 \
		|| { tail -n 40 $(CURDIR)/.venv-$*/pip.log; exit 1; }
	@$(call MATRIX_BIN,$*)/python -m pip install -q -r $< >> $(CURDIR)/.venv-$*/pip.log 2>&1 \
		|| { tail -n 40 $(CURDIR)/.venv-$*/pip.log; exit 1; }
	@touch $@

# ansible-test needs the collection at .../ansible_collections/opskite/buildkite and resolves
# symbolic links, so it runs on a copy. The copy includes .git so that .gitignore still applies.
collection: venv
	@rm -rf $(COLLECTIONS) && mkdir -p $(COPY)
	@tar -C $(CURDIR) --exclude=./.venv --exclude='./.venv-*' --exclude=./.ansible --exclude=./tests/output --exclude=./.tmp -cf - . \
		| tar -C $(COPY) -xf -

# ansible-test downloads a get-pip script for its venvs from a host outside the package
# registries; it uses a cached copy first, so put an offline stand-in there unless one exists.
# Each ansible-core version asks for its own pip version (2.16: 23.1.2, 2.21: 25.2).
ansible-test-pip: venv-$(SANITY_VERSION)
	@version=$$($(call MATRIX_BIN,$(SANITY_VERSION))/python tests/utils/ansible_test_pip_version.py); \
	cache=$$HOME/.ansible/test/cache/get_pip_$${version//./_}.py; \
	if [ ! -e "$$cache" ]; then mkdir -p "$$(dirname "$$cache")" && cp tests/utils/get_pip_offline.py "$$cache"; fi

# The demo playbook runs twice against one simulator: the second run shows that nothing changes.
demo: venv collection
	@echo "=== Running playbooks/demo.yml twice against the Buildkite simulator"
	@cd $(CURDIR) && ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $(WITH_SIMULATOR) --scenario demo -- bash -c \
		'$(BIN)/ansible-playbook -i localhost, -e demo_poll_interval=1 -e demo_log_dir=$(WORK) playbooks/demo.yml \
		&& echo "=== The same playbook again: nothing left to change" \
		&& $(BIN)/ansible-playbook -i localhost, -e demo_poll_interval=1 -e demo_log_dir=$(WORK) playbooks/demo.yml'

# Sanity runs on the newest ansible-core only: its tests are a superset of the older ones'.
sanity: collection ansible-test-pip
	@echo "=== ansible-test sanity (ansible-core $(SANITY_VERSION))"
	@bin=$(call MATRIX_BIN,$(SANITY_VERSION)); cd $(COPY) && PATH=$$bin:$$PATH \
		$$bin/ansible-test sanity --local --python $(call python_version,$$bin) --color no

units: collection
	@echo "=== ansible-test units"
	@cd $(COPY) && PATH=$(BIN):$$PATH $(ANSIBLE_TEST) units $(ANSIBLE_TEST_ARGS)

units-%: collection venv-%
	@echo "=== ansible-test units (ansible-core $*)"
	@bin=$(call MATRIX_BIN,$*); cd $(COPY) && PATH=$$bin:$$PATH \
		$$bin/ansible-test units --local --python $(call python_version,$$bin) --color no

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

# The collection tarball, as Galaxy and `ansible-galaxy collection install` get it.
tarball: venv
	@echo "=== ansible-galaxy collection build"
	@rm -rf $(WORK)/dist && mkdir -p $(WORK)/dist
	@$(BIN)/ansible-galaxy collection build --force --output-path $(WORK)/dist . > /dev/null

# The checks Ansible Galaxy, the docs site and execution environments apply: galaxy-importer on
# the tarball (it exits 0 on warnings, so any WARNING or ERROR line fails here), the plugin docs
# and changelog fragment lints, and ansible-builder. `ansible-builder introspect` reads the
# Python dependencies that the installed collection declares in meta/execution-environment.yml,
# as an image build does, and `ansible-builder create` checks docs/execution-environment.yml and
# writes its build context, without building an image.
release-checks: tarball
	@echo "=== galaxy-importer"
	@cd $(WORK)/dist && PATH=$(BIN):$$PATH $(BIN)/python -m galaxy_importer.main *.tar.gz > importer.log 2>&1 \
		|| { cat importer.log; exit 1; }
	@if grep -Eq '^(WARNING|ERROR)' $(WORK)/dist/importer.log \
		|| ! grep -q 'Importer processing completed successfully' $(WORK)/dist/importer.log; then \
		cat $(WORK)/dist/importer.log; echo "galaxy-importer reported problems"; exit 1; fi
	@echo "galaxy-importer: no warnings or errors"
	@echo "=== antsibull-docs lint-collection-docs, antsibull-changelog lint"
	@PATH=$(BIN):$$PATH $(BIN)/antsibull-docs lint-collection-docs --plugin-docs .
	@$(BIN)/antsibull-changelog lint
	@echo "=== ansible-builder introspect and create: the execution environment"
	@rm -rf $(WORK)/ee && mkdir -p $(WORK)/ee
	@$(BIN)/ansible-galaxy collection install --force -p $(WORK)/ee/collections $(WORK)/dist/*.tar.gz > /dev/null 2>&1
	@$(BIN)/ansible-builder introspect $(WORK)/ee/collections > $(WORK)/ee/introspect.log 2>&1 \
		|| { cat $(WORK)/ee/introspect.log; exit 1; }
	@grep -q "^- 'requests>=2.25.0  # from collection opskite.buildkite'" $(WORK)/ee/introspect.log \
		|| { cat $(WORK)/ee/introspect.log; echo "ansible-builder found no requests requirement in the collection"; exit 1; }
	@$(BIN)/ansible-builder create --file docs/execution-environment.yml --context $(WORK)/ee/context \
		> $(WORK)/ee/create.log 2>&1 || { cat $(WORK)/ee/create.log; exit 1; }
	@echo "ansible-builder: the collection requires requests; build context in .tmp/ee/context"

# The integration targets once more, against the collection installed from the tarball, so a
# file missing from the tarball fails: `make integration-2.16` on ansible-core 2.16, and so on.
# The install goes outside the repository: inside it, ansible-test would list files with git and
# skip the ignored .tmp. NO_TARBALL_BUILD=1 uses the tarball already in .tmp/dist.
integration-%: venv-% $(if $(NO_TARBALL_BUILD),,tarball)
	@echo "=== ansible-test integration (ansible-core $*), against the collection installed from the tarball"
	@bin=$(call MATRIX_BIN,$*); installed=$$(mktemp -d); trap 'rm -rf "$$installed"' EXIT; \
	$$bin/ansible-galaxy collection install --force -p "$$installed" $(WORK)/dist/*.tar.gz > /dev/null 2>&1; \
	cd "$$installed/ansible_collections/opskite/buildkite" && PATH=$$bin:$$PATH $$bin/python tests/utils/with_simulator.py \
		--scenario retry --integration-config tests/integration/integration_config.yml -- \
		$$bin/ansible-test integration --local --python $(call python_version,$$bin) --color no

# Both matrix versions side by side, each run's output printed whole when it ends.
integration-installed: tarball $(addprefix venv-,$(MATRIX_VERSIONS))
	@echo "=== ansible-test integration on ansible-core $(MATRIX_VERSIONS) side by side; each run's output follows when it ends"
	@$(MAKE) --no-print-directory -j2 --output-sync=target NO_TARBALL_BUILD=1 \
		$(addprefix integration-,$(MATRIX_VERSIONS))

# Every integration run of make test side by side: 2.19 on the source copy and the matrix
# versions on the installed tarball. Each run keeps one core busy most of the time (about 200 s
# of CPU each), so on 2 cores the three end sooner together than one after another.
.PHONY: integration-all
integration-all: tarball venv $(addprefix venv-,$(MATRIX_VERSIONS))
	@echo "=== ansible-test integration on ansible-core 2.19 and $(MATRIX_VERSIONS) side by side; each run's output follows when it ends"
	@$(MAKE) --no-print-directory -j3 --output-sync=target NO_TARBALL_BUILD=1 \
		integration $(addprefix integration-,$(MATRIX_VERSIONS))

lint: venv
	@echo "=== ansible-lint (production profile)"
	@PATH=$(BIN):$$PATH $(BIN)/ansible-lint --profile production --nocolor
	@echo "=== ruff"
	@$(BIN)/ruff check --no-cache .
	@$(BIN)/ruff format --no-cache --check .

# The plugin docs (antsibull-docs) and the user guide (docs/*.md, through myst-parser) as one
# static Sphinx site; docs/site has its settings and front page. Sphinx fails on any warning,
# such as a link to a missing page or heading. Links to other sites are not checked: the
# build runs offline.
DOCS_SOURCE := $(WORK)/docs-source
DOCS_SITE := $(WORK)/docs-site
docs: collection
	@echo "=== antsibull-docs and Sphinx: the docs site"
	@rm -rf $(DOCS_SOURCE) $(DOCS_SITE) && mkdir -p $(DOCS_SOURCE)/collection $(DOCS_SOURCE)/guide
	@cp docs/site/index.rst $(DOCS_SOURCE)/ && cp docs/*.md docs/*.yml $(DOCS_SOURCE)/guide/
	@PATH=$(BIN):$$PATH ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $(BIN)/antsibull-docs collection --use-current \
		--squash-hierarchy --fail-on-error --dest-dir $(DOCS_SOURCE)/collection opskite.buildkite \
		> $(WORK)/antsibull-docs.log 2>&1 || { cat $(WORK)/antsibull-docs.log; exit 1; }
	@$(BIN)/sphinx-build -q -b html -c docs/site -W --keep-going -n $(DOCS_SOURCE) $(DOCS_SITE)
	@echo "Docs site: .tmp/docs-site/index.html"

test: venvs sanity units $(addprefix units-,$(MATRIX_VERSIONS)) simulator-tests reliability molecule \
	release-checks integration-all lint docs
	@echo "=== make test: all checks passed"

clean:
	rm -rf $(WORK) tests/output .ansible

# Benchmarks against the simulator; not part of make test. Writes docs/benchmarks.md in about 7 to 10 minutes.
.PHONY: bench
bench: venv
	@echo "=== Benchmarks against the Buildkite simulator (writes docs/benchmarks.md)"
	@cd $(CURDIR) && $(BIN)/python benchmarks/run.py --json .tmp/benchmarks.json
