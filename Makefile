# c5metrics: PGXS build.  `make && make install`, then `make installcheck`
# starts its own temporary server with the library preloaded.

MODULE_big = c5metrics
OBJS = \
	src/c5metrics.o \
	src/registry.o \
	src/capture.o \
	src/sqlstate.o \
	src/twophase.o \
	src/triggers.o \
	src/guards.o \
	src/exposition.o \
	src/sqlfuncs.o \
	src/persist.o

EXTENSION = c5metrics
DATA = sql/c5metrics--1.0.sql
PGFILEDESC = "c5metrics - transactional business-flow metrics"

REGRESS = preload attach sales stock refunds leads rollback twophase \
	exposition privileges baddata cardinality reference
REGRESS_OPTS = --temp-config=$(srcdir)/test/regress.conf \
	--temp-instance=./tmp_check
ISOLATION = concurrency
ISOLATION_OPTS = --temp-config=$(srcdir)/test/regress.conf \
	--temp-instance=./tmp_check_iso
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl
PROVE_FLAGS = -v

PG_CFLAGS = -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wno-sign-compare
EXTRA_CLEAN = tmp_check tmp_check_iso results output_iso regression.diffs \
	regression.out log

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
