/*-------------------------------------------------------------------------
 *
 * fuzz_render.c
 *		libFuzzer target for the exposition renderer (src/exposition.c).
 *
 * Each input becomes a random but internally consistent C5Snapshot -- the
 * state a reader can copy out of the registry: a layout from
 * c5m_compute_layout() (4 to 256 statuses, 1 to 30 bounds), strictly
 * increasing positive bounds, a status dictionary of "other", "none" and
 * distinct names of 1 to 63 arbitrary non-NUL bytes, live flags only on
 * interned statuses, random counters, histograms and settings.  Both
 * formats are rendered and the text checked line by line:
 *
 *	- every line is a HELP/TYPE pair, "# EOF" (OpenMetrics, last line
 *	  only), or "name{key="value",...} value" with escapes that are valid
 *	  for the format and no raw newline inside a quoted value;
 *	- each family is declared once, each sample belongs to the family
 *	  declared above it with a suffix allowed for its type, and no series
 *	  appears twice;
 *	- each histogram series has one bucket per bound plus +Inf, with le
 *	  strictly increasing and equal to the configured bound, cumulative
 *	  counts that are the snapshot's, _count equal to +Inf, and _sum the
 *	  snapshot's microseconds exactly;
 *	- sales_transition_total and exceptions_total expose exactly the live
 *	  series, with label values that unescape to the status or condition
 *	  and the counter of that series;
 *	- the output is valid UTF-8 when the status names are.
 *
 * Allocations are exact, so AddressSanitizer sees the renderer read past
 * a counter array, a live-flag array, or an unterminated name (unused
 * dictionary slots hold no NUL at all).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/stringinfo.h"

#include "exposition.h"
#include "layout.h"
#include "registry.h"
#include "settings.h"
#include "sqlstate.h"

#define MAX_LABELS		4
#define MAX_FAMILIES	64
#define NAME_HASH		512		/* > 2 * 256 statuses */
#define MAX_PAIRS		1024	/* live transition pairs an input can add */
#define BUCKET_MASK		((UINT64CONST(1) << 58) - 1)	/* 31 buckets sum < 2^63 */

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			fail(#cond, __LINE__); \
	} while (0)

/* ---- the snapshot under test, and what the checker expects of it ---- */

static C5Snapshot snap;
static bool names_utf8;			/* every status name is valid UTF-8 */
static int	name_hash[NAME_HASH];	/* status id + 1, 0 when empty */
static int	pairs[MAX_PAIRS + 1];	/* live transition pairs */
static int	live_pairs;			/* how many */
static int	live_cells;			/* distinct live exception cells */

/* the line being checked, for the report */
static const char *cur_line;
static bool cur_openmetrics;

static void
fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_render.c:%d: invariant violated: %s\n", line, what);
	if (cur_line != NULL)
	{
		const char *nl = strchr(cur_line, '\n');
		int			len = nl ? (int) (nl - cur_line) : (int) strlen(cur_line);

		fprintf(stderr, "in the %s output, at line: %.*s\n",
				cur_openmetrics ? "OpenMetrics" : "text", len > 300 ? 300 : len,
				cur_line);
	}
	abort();
}

/*
 * Comparisons of our own: libFuzzer hooks memcmp and strcmp to learn from
 * the code under test, and the checker's many calls would cost more than
 * the rendering.
 */
static int
bytes_cmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a;
	const unsigned char *y = b;
	size_t		i;

	for (i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

static int
str_cmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char) *a - (unsigned char) *b;
}

/* ---- reading the fuzz input ---- */

typedef struct Input
{
	const uint8_t *p;
	size_t		n;
} Input;

static uint64
take(Input *in, int nbytes)
{
	uint64		v = 0;
	int			i;

	for (i = 0; i < nbytes && in->n > 0; i++, in->n--)
		v = (v << 8) | *in->p++;
	return v;
}

/* A counter value: small ones most often, the extremes sometimes. */
static uint64
take_value(Input *in)
{
	switch (take(in, 1) % 8)
	{
		case 0:
			return 0;
		case 1:
		case 2:
			return take(in, 1);
		case 3:
			return take(in, 2);
		case 4:
			return take(in, 4);
		case 5:
			return take(in, 8);
		case 6:
			return PG_UINT64_MAX - take(in, 1);
		default:
			return (uint64) PG_INT64_MAX + take(in, 1);
	}
}

/*
 * One bucket bound, as c5metrics.duration_buckets could set it: a decimal
 * as a person writes it, or any positive double.
 */
static double
take_bound(Input *in, int mode)
{
	if (mode == 0)
	{
		char		text[64];

		snprintf(text, sizeof(text), "%de%d",
				 (int) (take(in, 3) % 9999999) + 1, (int) (take(in, 1) % 40) - 24);
		return strtod(text, NULL);
	}
	else
	{
		uint64		bits = take(in, 8);
		double		d;

		memcpy(&d, &bits, sizeof(d));
		d = fabs(d);
		if (!isfinite(d) || d == 0 || d > 1e300)
			d = 1.0 + (double) (bits & 0xffff) / 64;
		return d;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

static uint32
hash_name(const char *s)
{
	uint32		h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 16777619u;
	return h;
}

/* Status id of a name, or -1. */
static int
name_lookup(const char *s)
{
	uint32		h = hash_name(s) % NAME_HASH;

	while (name_hash[h] != 0)
	{
		if (str_cmp(snap.names[name_hash[h] - 1], s) == 0)
			return name_hash[h] - 1;
		h = (h + 1) % NAME_HASH;
	}
	return -1;
}

static void
name_insert(int id)
{
	uint32		h = hash_name(snap.names[id]) % NAME_HASH;

	while (name_hash[h] != 0)
		h = (h + 1) % NAME_HASH;
	name_hash[h] = id + 1;
}

/* RFC 3629 UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static bool
valid_utf8(const unsigned char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];
		int			n;
		uint32		cp;
		int			k;

		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 1, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			n = 2, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			n = 3, cp = c & 0x07;
		else
			return false;
		for (k = 1; k <= n; k++)
		{
			if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
			cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n + 1;
	}
	return true;
}

/*
 * Build the snapshot from the input.  The order of reading puts the shape
 * (sizes, names, live flags) first, values after.
 */
static void
build_snapshot(Input *in)
{
	C5Layout   *l = &snap.l;
	int			nstatus = 4 + (int) (take(in, 1) % 253);
	int			nbuckets = 1 + (int) (take(in, 1) % C5M_MAX_BUCKETS);
	int			mode = (int) (take(in, 1) % 3);
	int			flags = (int) take(in, 1);
	int			ncond = c5m_condition_count();
	int			i,
				j,
				n;

	cur_line = NULL;
	memset(&snap, 0, sizeof(snap));
	memset(name_hash, 0, sizeof(name_hash));
	c5m_compute_layout(l, nstatus, nbuckets);
	CHECK(l->nstatus == nstatus && l->nbuckets == nbuckets);
	CHECK(l->nlive == l->live_transitions + nstatus * nstatus);
	CHECK(l->base[C5_STORE_TRANSITIONS] + nstatus * nstatus * C5_NRESULTS <= l->ncounters);
	CHECK(l->base[C5_STORE_HTTP_REFUSED] + C5_NREFUSALS <= l->ncounters);

	snap.in_recovery = (flags & 1) != 0;
	c5m_lead_throttle = (flags & 2) != 0;
	c5m_refund_guard = (flags & 4) != 0;

	/*
	 * Bounds: strictly increasing, positive, finite.  Mode 2 makes them
	 * adjacent doubles, the closest that distinct bounds can be.
	 */
	for (i = 0; i < nbuckets; i++)
		snap.bounds[i] = (mode == 2 && i > 0) ? snap.bounds[0] : take_bound(in, mode % 2);
	qsort(snap.bounds, nbuckets, sizeof(double), cmp_double);
	for (i = 1; i < nbuckets; i++)
		if (snap.bounds[i] <= snap.bounds[i - 1])
			snap.bounds[i] = nextafter(snap.bounds[i - 1], INFINITY);

	/* the dictionary: unused slots hold no terminator at all */
	snap.names = malloc((size_t) nstatus * C5M_LABEL_LEN);
	memset(snap.names, 'X', (size_t) nstatus * C5M_LABEL_LEN);
	snap.nstatus_used = 2 + (int) (take(in, 1) % (nstatus - 1));
	strcpy(snap.names[C5_STATUS_OTHER], "other");
	strcpy(snap.names[C5_STATUS_NONE], "none");
	name_insert(C5_STATUS_OTHER);
	name_insert(C5_STATUS_NONE);
	names_utf8 = true;
	for (i = 2; i < snap.nstatus_used; i++)
	{
		int			len = 1 + (int) (take(in, 1) % (C5M_LABEL_LEN - 1));

		for (j = 0; j < len; j++)
		{
			int			c = (int) take(in, 1);

			/* NUL cannot be in a name; make it a character worth escaping */
			snap.names[i][j] = c == 0 ? "\"\\\n"[j % 3] : (char) c;
		}
		snap.names[i][len] = '\0';
		/* the dictionary never holds a value twice */
		for (j = 0; name_lookup(snap.names[i]) >= 0; j++)
			snprintf(snap.names[i], C5M_LABEL_LEN, "status_%d_%d", i, j);
		name_insert(i);
		if (!valid_utf8((unsigned char *) snap.names[i], strlen(snap.names[i])))
			names_utf8 = false;
	}

	/*
	 * Live flags: the "other" series always, then any exception cell and
	 * any pair of interned statuses.  Flags are any non-zero value.
	 */
	snap.live = calloc(l->nlive, sizeof(uint32));
	for (i = 0; i < C5_NFLOWS; i++)
		snap.live[l->live_exceptions + i] = 1;
	live_cells = C5_NFLOWS;
	n = (int) take(in, 1);
	for (i = 0; i < n; i++)
	{
		uint32	   *f = &snap.live[l->live_exceptions + take(in, 2) % (ncond * C5_NFLOWS)];

		live_cells += *f == 0;
		*f = 1 + (uint32) take(in, 1);
	}
	pairs[0] = 0;
	snap.live[l->live_transitions] = 1;
	live_pairs = 1;
	n = (int) (take(in, 2) % MAX_PAIRS);
	for (i = 0; i < n; i++)
	{
		int			pair = (int) (take(in, 1) % snap.nstatus_used) * nstatus +
		(int) (take(in, 1) % snap.nstatus_used);

		if (snap.live[l->live_transitions + pair] == 0)
			pairs[live_pairs++] = pair;
		snap.live[l->live_transitions + pair] = 1;
	}

	for (i = 0; i < C5_NFLOWS; i++)
		snap.tracked[i] = (int) (take(in, 2) % (C5M_MAX_TRACKED + 1));
	snap.nseries = (uint32) take(in, 4);
	snap.stats_reset = (TimestampTz) take(in, 8);
	c5m_max_series = 500 + (int) (take(in, 4) % 999501);

	for (i = 0; i <= C5_NHISTS; i++)
	{
		int			nb = i == C5_RENDER_HIST ? C5M_RENDER_BUCKETS : nbuckets;

		for (j = 0; j <= C5M_MAX_BUCKETS; j++)
			snap.buckets[i][j] = j <= nb ? take_value(in) & BUCKET_MASK
				: PG_UINT64_MAX;	/* never read */
		snap.sum_us[i] = take_value(in);
	}

	/* counters: every exposed one from the input, the others zero */
	snap.ctr = calloc(l->ncounters, sizeof(uint64));
	for (i = 0; i < l->base[C5_STORE_TRANSITIONS]; i++)
		snap.ctr[i] = take_value(in);
	for (i = 0; i < live_pairs * C5_NRESULTS; i++)
		snap.ctr[l->base[C5_STORE_TRANSITIONS] + pairs[i / C5_NRESULTS] * C5_NRESULTS +
				 i % C5_NRESULTS] = take_value(in);
	for (i = l->base[C5_STORE_TRANSITIONS] + nstatus * nstatus * C5_NRESULTS; i < l->ncounters; i++)
		snap.ctr[i] = take_value(in);
}

static void
free_snapshot(void)
{
	free(snap.names);
	free(snap.live);
	free(snap.ctr);
}

/* ---- checking the output ---- */

typedef struct Label
{
	const char *key;
	int			keylen;
	const char *val;			/* escaped, between the quotes */
	int			vallen;
} Label;

typedef struct Sample
{
	const char *name;
	int			namelen;
	int			nlabels;
	Label		labels[MAX_LABELS];
	const char *series;			/* name and labels: the series' identity */
	int			serieslen;
	const char *value;
	int			valuelen;
} Sample;

typedef struct Family
{
	char		name[128];
	char		type[16];
} Family;

/* A histogram series being read: buckets so far, then _sum and _count. */
typedef struct HistState
{
	bool		open;
	int			hist;			/* index into the snapshot's histograms */
	const char *labels;			/* its labels but le, to match _sum/_count */
	int			labelslen;
	int			nbuckets;
	double		le[C5M_MAX_BUCKETS + 1];
	uint64		cum[C5M_MAX_BUCKETS + 1];
	bool		inf;
	bool		sum;
} HistState;

typedef struct Checker
{
	bool		openmetrics;
	Family		families[MAX_FAMILIES];
	int			nfamilies;
	Family	   *family;			/* the one declared last */
	HistState	h;
	int			hist_seen[C5_NHISTS + 1];
	int			transitions;	/* sales_transition_total samples */
	int			exceptions;		/* exceptions_total samples */
	Sample	   *samples;		/* for duplicate detection */
	int			nsamples;
	int			maxsamples;
} Checker;

static bool
is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool
is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

static int
name_len(const char *p)
{
	int			n = 0;

	if (!is_name_start(p[0]))
		return 0;
	while (is_name_char(p[n]))
		n++;
	return n;
}

static bool
span_eq(const char *p, int len, const char *lit)
{
	return (int) strlen(lit) == len && bytes_cmp(p, lit, len) == 0;
}

/* Unescape a label value into buf (vallen + 1 bytes). */
static void
unescape(const char *p, int len, char *buf)
{
	int			i,
				n = 0;

	for (i = 0; i < len; i++)
	{
		if (p[i] == '\\')
		{
			i++;
			buf[n++] = p[i] == 'n' ? '\n' : p[i];
		}
		else
			buf[n++] = p[i];
	}
	buf[n] = '\0';
}

static const Label *
find_label(const Sample *s, const char *key)
{
	int			i;

	for (i = 0; i < s->nlabels; i++)
		if (span_eq(s->labels[i].key, s->labels[i].keylen, key))
			return &s->labels[i];
	return NULL;
}

/* An unsigned integer value, the whole token. */
static uint64
int_value(const Sample *s)
{
	uint64		v = 0;
	int			i;

	CHECK(s->valuelen > 0 && s->valuelen <= 20);
	for (i = 0; i < s->valuelen; i++)
	{
		int			d = s->value[i] - '0';

		CHECK(d >= 0 && d <= 9);
		CHECK(v <= (PG_UINT64_MAX - d) / 10);
		v = v * 10 + d;
	}
	return v;
}

/* A float value, the whole token. */
static double
float_value(const char *p, int len)
{
	char		buf[64];
	char	   *end;
	double		d;

	CHECK(len > 0 && len < (int) sizeof(buf));
	memcpy(buf, p, len);
	buf[len] = '\0';
	d = strtod(buf, &end);
	CHECK(*end == '\0' && !isnan(d));
	return d;
}

/* HELP text: the escapes each format allows, nothing else after a backslash. */
static void
check_help(const char *p, const char *end)
{
	for (; p < end; p++)
	{
		if (*p == '\\')
		{
			p++;
			CHECK(p < end && (*p == '\\' || *p == 'n' ||
							  (cur_openmetrics && *p == '"')));
		}
		else if (cur_openmetrics)
			CHECK(*p != '"');
	}
}

/* "# HELP name text\n# TYPE name type\n": declare a family. */
static const char *
check_metadata(Checker *c, const char *p)
{
	static const char *const text_types[] = {"counter", "gauge", "histogram", NULL};
	static const char *const om_types[] = {"counter", "gauge", "histogram", "info", NULL};
	const char *const *types = c->openmetrics ? om_types : text_types;
	const char *eol = strchr(p, '\n');
	Family	   *f;
	int			n,
				i;

	CHECK(strncmp(p, "# HELP ", 7) == 0);
	p += 7;
	n = name_len(p);
	CHECK(n > 0 && n < (int) sizeof(f->name));
	CHECK(p[n] == ' ');
	check_help(p + n + 1, eol);
	for (i = 0; i < c->nfamilies; i++)
		CHECK(!span_eq(p, n, c->families[i].name));
	CHECK(c->nfamilies < MAX_FAMILIES);
	f = &c->families[c->nfamilies++];
	memcpy(f->name, p, n);
	f->name[n] = '\0';

	cur_line = p = eol + 1;
	eol = strchr(p, '\n');
	CHECK(eol != NULL);
	CHECK(strncmp(p, "# TYPE ", 7) == 0);
	p += 7;
	CHECK(strncmp(p, f->name, n) == 0 && p[n] == ' ');
	p += n + 1;
	CHECK(eol - p < (int) sizeof(f->type));
	memcpy(f->type, p, eol - p);
	f->type[eol - p] = '\0';
	for (i = 0; types[i] != NULL; i++)
		if (str_cmp(f->type, types[i]) == 0)
			break;
	CHECK(types[i] != NULL);
	CHECK(!c->h.open);
	c->family = f;
	return eol + 1;
}

/* Parse "name{k="v",...} value\n" into s; returns the next line. */
static const char *
parse_sample(const char *p, Sample *s)
{
	memset(s, 0, sizeof(*s));
	s->name = s->series = p;
	s->namelen = name_len(p);
	CHECK(s->namelen > 0);
	p += s->namelen;
	if (*p == '{')
	{
		p++;
		for (;;)
		{
			Label	   *lb;

			CHECK(s->nlabels < MAX_LABELS);
			lb = &s->labels[s->nlabels++];
			lb->key = p;
			lb->keylen = name_len(p);
			CHECK(lb->keylen > 0);
			p += lb->keylen;
			CHECK(p[0] == '=' && p[1] == '"');
			p += 2;
			lb->val = p;
			while (*p != '"')
			{
				CHECK(*p != '\0' && *p != '\n');
				if (*p == '\\')
				{
					p++;
					CHECK(*p == '\\' || *p == '"' || *p == 'n');
				}
				p++;
			}
			lb->vallen = p - lb->val;
			p++;
			if (*p == '}')
				break;
			CHECK(*p == ',');
			p++;
		}
		p++;
	}
	s->serieslen = p - s->series;
	CHECK(*p == ' ');
	p++;
	s->value = p;
	while (*p != '\n' && *p != '\0')
	{
		CHECK(*p != ' ');
		p++;
	}
	CHECK(*p == '\n');
	s->valuelen = p - s->value;
	CHECK(s->valuelen > 0);
	return p + 1;
}

/* Which histogram of the snapshot a histogram sample is. */
static int
hist_index(const Family *f, const Sample *s)
{
	if (str_cmp(f->name, "sales_paid_stock_consume_duration_seconds") == 0)
		return C5_HIST_CONSUME;
	if (str_cmp(f->name, "sale_refund_duration_seconds") == 0)
		return C5_HIST_REFUND;
	if (str_cmp(f->name, "c5metrics_http_render_duration_seconds") == 0)
		return C5_RENDER_HIST;
	if (str_cmp(f->name, "flow_transaction_duration_seconds") == 0)
	{
		const Label *lb = find_label(s, "flow");
		int			i;

		CHECK(lb != NULL);
		for (i = 0; i < C5_NFLOWS; i++)
			if (span_eq(lb->val, lb->vallen, c5m_flow_name(i)))
				return C5_HIST_FLOW + i;
	}
	CHECK(!"histogram known to the checker");
	return -1;
}

/* The labels of a histogram sample but le, which must be last. */
static void
labels_but_le(const Sample *s, const char **p, int *len)
{
	const Label *last = s->nlabels > 0 ? &s->labels[s->nlabels - 1] : NULL;

	*p = s->series + s->namelen;
	if (last != NULL && span_eq(last->key, last->keylen, "le"))
	{
		CHECK(find_label(s, "le") == last);
		*len = s->nlabels == 1 ? 0 : (int) (last->key - 1 - *p);
	}
	else
	{
		CHECK(find_label(s, "le") == NULL);
		*len = s->serieslen - s->namelen;
		if (*len > 0)
			(*len)--;			/* without the closing brace */
	}
}

static void
check_histogram_sample(Checker *c, const Sample *s, const char *suffix)
{
	HistState  *h = &c->h;
	const char *labels;
	int			labelslen;

	labels_but_le(s, &labels, &labelslen);
	if (str_cmp(suffix, "_bucket") == 0)
	{
		const Label *le;
		uint64		v = int_value(s);

		CHECK(s->nlabels > 0);
		le = &s->labels[s->nlabels - 1];
		CHECK(span_eq(le->key, le->keylen, "le"));
		if (!h->open)
		{
			memset(h, 0, sizeof(*h));
			h->open = true;
			h->hist = hist_index(c->family, s);
			h->labels = labels;
			h->labelslen = labelslen;
		}
		CHECK(labelslen == h->labelslen && bytes_cmp(labels, h->labels, labelslen) == 0);
		CHECK(!h->inf);
		CHECK(h->nbuckets <= C5M_MAX_BUCKETS);
		if (span_eq(le->val, le->vallen, "+Inf"))
		{
			h->inf = true;
			h->le[h->nbuckets] = INFINITY;
		}
		else
		{
			double		d = float_value(le->val, le->vallen);

			CHECK(isfinite(d) && d > 0);
			CHECK(h->nbuckets == 0 || d > h->le[h->nbuckets - 1]);
			if (cur_openmetrics)	/* a float, never an integer literal */
				CHECK(memchr(le->val, '.', le->vallen) || memchr(le->val, 'e', le->vallen));
			h->le[h->nbuckets] = d;
		}
		CHECK(h->nbuckets == 0 || v >= h->cum[h->nbuckets - 1]);
		h->cum[h->nbuckets++] = v;
		return;
	}

	CHECK(h->open && h->inf);
	CHECK(labelslen == h->labelslen && bytes_cmp(labels, h->labels, labelslen) == 0);
	if (str_cmp(suffix, "_sum") == 0)
	{
		uint64		us = snap.sum_us[h->hist];
		const char *dot = memchr(s->value, '.', s->valuelen);
		Sample		ip = *s;
		Sample		fp = *s;

		CHECK(!h->sum);
		h->sum = true;
		/* seconds with exactly six decimals: the microseconds, unrounded */
		CHECK(dot != NULL && s->value + s->valuelen - dot == 7);
		ip.valuelen = dot - s->value;
		fp.value = dot + 1;
		fp.valuelen = 6;
		CHECK(int_value(&ip) == us / 1000000 && int_value(&fp) == us % 1000000);
	}
	else
	{
		int			nb = h->hist == C5_RENDER_HIST ? C5M_RENDER_BUCKETS : snap.l.nbuckets;
		const double *bounds = h->hist == C5_RENDER_HIST ? c5m_render_bounds : snap.bounds;
		uint64		cum = 0;
		int			b;

		CHECK(str_cmp(suffix, "_count") == 0);
		CHECK(h->sum);
		CHECK(int_value(s) == h->cum[h->nbuckets - 1]);
		/* the snapshot's histogram, bound for bound */
		CHECK(h->nbuckets == nb + 1);
		for (b = 0; b <= nb; b++)
		{
			cum += snap.buckets[h->hist][b];
			CHECK(h->cum[b] == cum);
			if (b < nb)
				CHECK(h->le[b] == bounds[b]);
		}
		c->hist_seen[h->hist]++;
		h->open = false;
	}
}

/* sales_transition_total and exceptions_total: exactly the live series. */
static void
check_dynamic_sample(Checker *c, const Sample *s)
{
	const C5Layout *l = &snap.l;
	char		a[C5M_LABEL_LEN * 2 + 1];
	char		b[C5M_LABEL_LEN * 2 + 1];
	int			i;

	if (span_eq(s->name, s->namelen, "sales_transition_total"))
	{
		int			from,
					to,
					r = -1;

		CHECK(s->nlabels == 3);
		CHECK(span_eq(s->labels[0].key, s->labels[0].keylen, "from_status"));
		CHECK(span_eq(s->labels[1].key, s->labels[1].keylen, "to_status"));
		CHECK(span_eq(s->labels[2].key, s->labels[2].keylen, "result"));
		CHECK(s->labels[0].vallen < (int) sizeof(a) && s->labels[1].vallen < (int) sizeof(b));
		unescape(s->labels[0].val, s->labels[0].vallen, a);
		unescape(s->labels[1].val, s->labels[1].vallen, b);
		from = name_lookup(a);
		to = name_lookup(b);
		CHECK(from >= 0 && to >= 0);
		CHECK(snap.live[l->live_transitions + from * l->nstatus + to]);
		if (span_eq(s->labels[2].val, s->labels[2].vallen, "success"))
			r = C5_SUCCESS;
		else if (span_eq(s->labels[2].val, s->labels[2].vallen, "rejected"))
			r = C5_REJECTED;
		else if (span_eq(s->labels[2].val, s->labels[2].vallen, "failure"))
			r = C5_FAILURE;
		CHECK(r >= 0);
		CHECK(int_value(s) ==
			  snap.ctr[l->base[C5_STORE_TRANSITIONS] + (from * l->nstatus + to) * C5_NRESULTS + r]);
		c->transitions++;
	}
	else if (span_eq(s->name, s->namelen, "exceptions_total"))
	{
		int			cond = -1,
					flow = -1;

		CHECK(s->nlabels == 2);
		CHECK(span_eq(s->labels[0].key, s->labels[0].keylen, "exception_type"));
		CHECK(span_eq(s->labels[1].key, s->labels[1].keylen, "location"));
		for (i = 0; i < c5m_condition_count(); i++)
			if (span_eq(s->labels[0].val, s->labels[0].vallen, c5m_condition_name(i)))
				cond = i;
		for (i = 0; i < C5_NFLOWS; i++)
			if (span_eq(s->labels[1].val, s->labels[1].vallen, c5m_flow_name(i)))
				flow = i;
		CHECK(cond >= 0 && flow >= 0);
		CHECK(snap.live[l->live_exceptions + cond * C5_NFLOWS + flow]);
		CHECK(int_value(s) == snap.ctr[l->base[C5_STORE_EXCEPTIONS] + cond * C5_NFLOWS + flow]);
		c->exceptions++;
	}
}

/* A sample belongs to the family above it, with a suffix its type allows. */
static void
check_sample(Checker *c, Sample *s)
{
	const Family *f = c->family;
	int			flen;
	const char *suffix;

	CHECK(f != NULL);
	flen = strlen(f->name);
	CHECK(s->namelen >= flen && bytes_cmp(s->name, f->name, flen) == 0);
	suffix = s->name + flen;

	if (str_cmp(f->type, "histogram") == 0)
	{
		char		sfx[16];

		CHECK(s->namelen - flen < (int) sizeof(sfx));
		memcpy(sfx, suffix, s->namelen - flen);
		sfx[s->namelen - flen] = '\0';
		CHECK(str_cmp(sfx, "_bucket") == 0 || str_cmp(sfx, "_sum") == 0 ||
			  str_cmp(sfx, "_count") == 0);
		check_histogram_sample(c, s, sfx);
	}
	else
	{
		const char *want = "";

		CHECK(find_label(s, "le") == NULL);
		if (c->openmetrics && str_cmp(f->type, "counter") == 0)
			want = "_total";
		else if (str_cmp(f->type, "info") == 0)
			want = "_info";
		CHECK(span_eq(suffix, s->namelen - flen, want));
		if (str_cmp(f->type, "counter") == 0)
			(void) int_value(s);
		else if (str_cmp(f->type, "info") == 0)
			CHECK(span_eq(s->value, s->valuelen, "1"));
		else
			CHECK(isfinite(float_value(s->value, s->valuelen)));
		check_dynamic_sample(c, s);
	}

	if (c->nsamples == c->maxsamples)
	{
		c->maxsamples = c->maxsamples * 2 + 256;
		c->samples = realloc(c->samples, c->maxsamples * sizeof(Sample));
	}
	c->samples[c->nsamples++] = *s;
}

/* No series twice: an open-addressing set of the samples' identities. */
static void
check_unique_series(const Checker *c)
{
	int			size = 1;
	int		   *set;
	int			i;

	while (size < c->nsamples * 2)
		size *= 2;
	set = calloc(size, sizeof(int));
	for (i = 0; i < c->nsamples; i++)
	{
		const Sample *s = &c->samples[i];
		uint32		h = 2166136261u;
		int			k;

		cur_line = s->series;
		for (k = 0; k < s->serieslen; k++)
			h = (h ^ (unsigned char) s->series[k]) * 16777619u;
		for (h &= size - 1; set[h] != 0; h = (h + 1) & (size - 1))
		{
			const Sample *o = &c->samples[set[h] - 1];

			CHECK(o->serieslen != s->serieslen ||
				  bytes_cmp(o->series, s->series, s->serieslen) != 0);
		}
		set[h] = i + 1;
	}
	free(set);
}

static void
check_output(const StringInfoData *out, bool openmetrics)
{
	Checker		c;
	const char *p = out->data;
	const char *end = out->data + out->len;
	int			i;

	memset(&c, 0, sizeof(c));
	c.openmetrics = cur_openmetrics = openmetrics;
	cur_line = NULL;
	CHECK(out->len > 0 && (int) strlen(out->data) == out->len);
	CHECK(end[-1] == '\n');
	if (names_utf8)
		CHECK(valid_utf8((const unsigned char *) out->data, out->len));

	while (p < end)
	{
		cur_line = p;
		if (p[0] == '#')
		{
			if (openmetrics && str_cmp(p, "# EOF\n") == 0)
			{
				p += 6;
				continue;
			}
			CHECK(strncmp(p, "# EOF", 5) != 0);
			p = check_metadata(&c, p);
		}
		else
		{
			Sample		s;

			p = parse_sample(p, &s);
			check_sample(&c, &s);
		}
	}
	cur_line = NULL;
	if (openmetrics)
		CHECK(out->len >= 6 && str_cmp(end - 6, "# EOF\n") == 0);
	CHECK(!c.h.open);
	for (i = 0; i <= C5_NHISTS; i++)
		CHECK(c.hist_seen[i] == 1);
	CHECK(c.transitions == live_pairs * C5_NRESULTS);
	CHECK(c.exceptions == live_cells);

	check_unique_series(&c);
	free(c.samples);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Input		in = {data, size};
	StringInfoData out;

	build_snapshot(&in);

	initStringInfo(&out);
	c5m_render_text(&snap, &out);
	check_output(&out, false);

	resetStringInfo(&out);
	c5m_render_openmetrics(&snap, &out);
	check_output(&out, true);

	pfree(out.data);
	free_snapshot();
	return 0;
}
