# The two set-up commands (see README):
#   make demo   install everything, seed the demo council, serve it on http://127.0.0.1:5000
#   make test   install everything (with test tools) and run the whole test suite
.PHONY: demo test setup lock lint

demo:
	bash scripts/setup.sh
	bash scripts/run-demo.sh

PYTEST_ARGS ?= -n 2

test:
	bash scripts/setup.sh --test
	.venv/bin/python -m pytest $(PYTEST_ARGS)

# Re-pin every Python dependency deliberately (run after changing pyproject.toml).
lock:
	.venv/bin/python -m pip install --quiet -e ".[dev]"
	.venv/bin/python -m pip freeze --exclude-editable | grep -v '^improvement-pulse' > constraints.txt

# Lint, formatting and types (also run by .ci/run before the tests).
lint:
	.venv/bin/python -m ruff check .
	.venv/bin/python -m ruff format --check .
	.venv/bin/python -m mypy
