# The test matrix: the ansible-core versions that `make test` runs the unit and integration
# tests on besides the main one (requirements-dev.txt: 2.19 on Python 3.11), and the Python
# that runs each as controller and target. requirements-<version>.txt beside this file pins
# each version's packages; `make .venv-<version>` installs them.
MATRIX_VERSIONS := 2.16 2.21

# The oldest version that meta/runtime.yml accepts; ansible-core 2.16 runs on Python 3.10 to 3.12.
MATRIX_PYTHON_2.16 ?= python3.11

# The newest release; ansible-core 2.21 needs Python 3.12 to 3.14 on the controller, so it runs
# on the pyenv build of 3.13. Set MATRIX_PYTHON_2.21 to use another Python 3.12 or newer.
PYENV_ROOT ?= $(HOME)/.pyenv
MATRIX_PYTHON_2.21 ?= $(PYENV_ROOT)/versions/3.13.0/bin/python3

# Sanity runs on the newest version only.
SANITY_VERSION := 2.21
