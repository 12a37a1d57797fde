# c5metrics: PGXS build.  `make && make install`, then `make installcheck`
# starts its own temporary server with the library preloaded.

MODULE_big = c5metrics
OBJS = \
	src/c5metrics.o \
	src/settings.o \
	src/catalog.o \
	src/statefile.o \
	src/registry.o \
	src/labels.o \
	src/layout.o \
	src/capture.o \
	src/sqlstate.o \
	src/twophase.o \
	src/columns.o \
	src/trigcache.o \
	src/sales.o \
	src/stock.o \
	src/refunds.o \
	src/refund_guard.o \
	src/leads.o \
	src/throttle.o \
	src/lookup.o \
	src/readable.o \
	src/refund_in.o \
	src/ddl.o \
	src/exposition.o \
	src/sqlfuncs.o \
	src/persist.o \
	src/sli.o \
	src/status.o

EXTENSION = c5metrics
DATA = sql/c5metrics--1.0.sql sql/c5metrics--1.0--1.1.sql sql/c5metrics--1.1--1.2.sql \
	sql/c5metrics--1.2--1.3.sql sql/c5metrics--1.3--1.4.sql sql/c5metrics--1.4--1.5.sql
PGFILEDESC = "c5metrics - transactional business-flow metrics"

REGRESS = preload attach sales salesflow stock refunds leads rollback twophase \
	exposition privileges baddata cardinality reference sli security foreign_triggers \
	ddl types
REGRESS_OPTS = --temp-config=$(srcdir)/test/regress.conf \
	--temp-instance=./tmp_check
ISOLATION = concurrency
ISOLATION_OPTS = --temp-config=$(srcdir)/test/regress.conf \
	--temp-instance=./tmp_check_iso
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl
PROVE_FLAGS = -v

# The library's version (c5metrics_build_info) is the control file's, so
# the two cannot drift.  The release is that version with ".0": 1.5 is the
# release 1.5.0, the Debian package 1.5.0-N and the PGXN version 1.5.0
# (docs/PACKAGING.md, "Versions"; test/check-version.sh checks them all).
C5M_VERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(dir $(lastword $(MAKEFILE_LIST)))c5metrics.control)
C5M_RELEASE = $(C5M_VERSION).0
PG_CPPFLAGS = -DC5M_VERSION='"$(C5M_VERSION)"'

PG_CFLAGS = -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wno-sign-compare
EXTRA_CLEAN = tmp_check tmp_check_iso results output_iso regression.diffs \
	regression.out log

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The HTTP worker's library: only the worker process loads it, so no
# backend maps libmicrohttpd, GnuTLS or zlib.  Its references to the
# registry resolve against the preloaded c5metrics.so.
HTTP_OBJS = src/http/worker.o src/http/handler.o src/http/negotiate.o
$(HTTP_OBJS): CPPFLAGS += -I$(srcdir)/src -I$(srcdir)/src/http

# Every object depends on every header of src/: one left compiled against
# an older shared-memory layout would read the wrong fields.
$(OBJS) $(HTTP_OBJS): $(wildcard $(srcdir)/src/*.h)
src/exposition.o: $(srcdir)/c5metrics.control
$(HTTP_OBJS): $(wildcard $(srcdir)/src/http/*.h)

c5metrics_http$(DLSUFFIX): $(HTTP_OBJS)
	$(CC) $(CFLAGS) $(HTTP_OBJS) $(LDFLAGS) $(LDFLAGS_SL) -shared -o $@ \
		-lmicrohttpd -lz

all: c5metrics_http$(DLSUFFIX)

install: install-http
install-http: c5metrics_http$(DLSUFFIX)
	$(INSTALL_SHLIB) c5metrics_http$(DLSUFFIX) '$(DESTDIR)$(pkglibdir)/c5metrics_http$(DLSUFFIX)'

uninstall: uninstall-http
uninstall-http:
	rm -f '$(DESTDIR)$(pkglibdir)/c5metrics_http$(DLSUFFIX)'

clean: clean-http
clean-http:
	rm -f c5metrics_http$(DLSUFFIX) $(HTTP_OBJS)

.PHONY: install-http uninstall-http clean-http

# c5load, the load generator with ground truth (test/c5load/).
C5LOAD = test/c5load/c5load
$(C5LOAD): test/c5load/c5load.c
	$(CC) $(CFLAGS) -I$(shell $(PG_CONFIG) --includedir) -o $@ $< \
		-L$(shell $(PG_CONFIG) --libdir) -lpq -lpthread

all: $(C5LOAD)

clean: clean-c5load
clean-c5load:
	rm -f $(C5LOAD)

.PHONY: clean-c5load

# The suites against c5metrics.so and c5metrics_http.so built with
# AddressSanitizer and UBSan, zero reports allowed (test/sanitize.sh; run
# as root: it works in a private copy of the PostgreSQL installation under
# /tmp and installs nothing into the system one).  Every suite by default;
# `make sanitize-check SANITIZE_FLAGS=--quick` for the default run's subset.
# `make valgrind-check`: the HTTP worker's request path under valgrind.
sanitize-check:
	bash test/sanitize.sh $(SANITIZE_FLAGS)

valgrind-check:
	bash test/valgrind-worker.sh

.PHONY: sanitize-check valgrind-check

# Releases (docs/PACKAGING.md).
#   make dist    the PGXN distribution c5metrics-X.Y.0.zip, in DISTDIR
#                (default here), of the commit DIST_REF (default HEAD):
#                every file under c5metrics-X.Y.0/, as `pgxn install`
#                unpacks and builds it
#   make deb     the Debian packages postgresql-NN-c5metrics_X.Y.0-N_*.deb,
#                one per installed major of debian/pgversions, built from
#                the working tree by dpkg-buildpackage and checked by
#                lintian, into build/deb/ (test/build-deb.sh)
#   make print-version   the SQL version and the release
DIST_REF ?= HEAD
DISTDIR ?= .
dist:
	git archive --format=zip --prefix=c5metrics-$(C5M_RELEASE)/ \
		-o $(DISTDIR)/c5metrics-$(C5M_RELEASE).zip $(DIST_REF)

deb:
	bash test/build-deb.sh build/deb

print-version:
	@echo $(C5M_VERSION) $(C5M_RELEASE)

.PHONY: dist deb print-version
