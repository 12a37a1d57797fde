/*-------------------------------------------------------------------------
 *
 * fuzz_negotiate.c
 *		libFuzzer target for every parser of request input in the HTTP
 *		worker (src/http/negotiate.c).
 *
 * The input is split at newlines into fields -- Accept, Accept-Encoding,
 * Authorization, and a second secret -- and each field goes, as its own
 * NUL-terminated allocation of exactly its size, to the function that
 * reads that header in production; the whole input goes to every parser
 * too.  An exact-size allocation lets AddressSanitizer see any read past
 * the terminator and any write past `outlen`.
 *
 * Besides "does not crash", each call is checked against what negotiate.h
 * promises: results are valid enum values; negotiation ignores ASCII case
 * and leading empty list elements; only a header naming a format or a
 * coding can select it; the Authorization output is NUL-terminated within
 * `outlen`, empty unless credentials were found, a Bearer token is the
 * header's credential verbatim, a Basic result re-encodes to the header's
 * credential, and whether credentials fit depends only on their length.
 * c5h_secret_equal agrees with memcmp.  Basic and Bearer headers built
 * from the fuzz data must be understood.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "negotiate.h"

#define NFIELDS		4			/* Accept, Accept-Encoding, Authorization, secret */
#define MAX_SECRET	4096		/* the buffer the worker passes (C5H_MAX_SECRET) */

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			fail(#cond, __LINE__); \
	} while (0)

static void
fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_negotiate.c:%d: invariant violated: %s\n", line, what);
	abort();
}

/* A NUL-terminated copy in an allocation of exactly len + 1 bytes. */
static char *
dup_exact(const char *p, size_t len)
{
	char	   *s = malloc(len + 1);

	if (s == NULL)
		abort();
	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

static char
ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static char
ascii_upper(char c)
{
	return (c >= 'a' && c <= 'z') ? c - ('a' - 'A') : c;
}

/* Case-insensitive (ASCII) substring search. */
static int
contains_ci(const char *hay, const char *needle)
{
	size_t		n = strlen(needle);

	for (; *hay; hay++)
	{
		size_t		i;

		for (i = 0; i < n && hay[i] && ascii_lower(hay[i]) == needle[i]; i++)
			;
		if (i == n)
			return 1;
	}
	return 0;
}

static char *
upper_copy(const char *s)
{
	char	   *u = dup_exact(s, strlen(s));
	char	   *p;

	for (p = u; *p; p++)
		*p = ascii_upper(*p);
	return u;
}

/* ", \t," in front of a list header: only empty elements. */
static char *
with_empty_prefix(const char *s)
{
	static const char prefix[] = ", \t,";
	size_t		len = strlen(s);
	char	   *r = malloc(sizeof(prefix) + len);

	if (r == NULL)
		abort();
	memcpy(r, prefix, sizeof(prefix) - 1);
	memcpy(r + sizeof(prefix) - 1, s, len + 1);
	return r;
}

static void
check_accept(const char *accept)
{
	C5Format	f = c5h_negotiate_format(accept);
	char	   *u;
	char	   *pre;

	CHECK(f == C5_FORMAT_TEXT || f == C5_FORMAT_OPENMETRICS);
	/* only a range that covers OpenMetrics can select it */
	if (f == C5_FORMAT_OPENMETRICS)
		CHECK(contains_ci(accept, "application/openmetrics-text") ||
			  contains_ci(accept, "application/*") ||
			  contains_ci(accept, "*/*"));
	u = upper_copy(accept);
	CHECK(c5h_negotiate_format(u) == f);
	pre = with_empty_prefix(accept);
	CHECK(c5h_negotiate_format(pre) == f);
	free(u);
	free(pre);
}

static void
check_encoding(const char *enc)
{
	bool		gz = c5h_accepts_gzip(enc);
	char	   *u;
	char	   *pre;

	if (gz)
		CHECK(contains_ci(enc, "gzip") || strchr(enc, '*') != NULL);
	u = upper_copy(enc);
	CHECK(c5h_accepts_gzip(u) == gz);
	pre = with_empty_prefix(enc);
	CHECK(c5h_accepts_gzip(pre) == gz);
	free(u);
	free(pre);
}

static const char b64_alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 of in[0..len), without padding, into a new string. */
static char *
b64_encode(const char *in, size_t len)
{
	char	   *out = malloc(len / 3 * 4 + 5);
	size_t		i,
				n = 0;

	if (out == NULL)
		abort();
	for (i = 0; i + 2 < len; i += 3)
	{
		unsigned int v = ((unsigned char) in[i] << 16) |
		((unsigned char) in[i + 1] << 8) | (unsigned char) in[i + 2];

		out[n++] = b64_alphabet[(v >> 18) & 63];
		out[n++] = b64_alphabet[(v >> 12) & 63];
		out[n++] = b64_alphabet[(v >> 6) & 63];
		out[n++] = b64_alphabet[v & 63];
	}
	if (len - i == 1)
	{
		unsigned int v = (unsigned char) in[i] << 16;

		out[n++] = b64_alphabet[(v >> 18) & 63];
		out[n++] = b64_alphabet[(v >> 12) & 63];
	}
	else if (len - i == 2)
	{
		unsigned int v = ((unsigned char) in[i] << 16) |
		((unsigned char) in[i + 1] << 8);

		out[n++] = b64_alphabet[(v >> 18) & 63];
		out[n++] = b64_alphabet[(v >> 12) & 63];
		out[n++] = b64_alphabet[(v >> 6) & 63];
	}
	out[n] = '\0';
	return out;
}

static int
is_sp(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Parse `header` with an output buffer of exactly `outlen` bytes and check
 * the promises that hold for any input.  Returns the scheme; *outp gets
 * the buffer (caller frees).
 */
static C5AuthScheme
parse_auth_checked(const char *header, size_t outlen, char **outp)
{
	char	   *out = malloc(outlen);
	C5AuthScheme r;

	if (out == NULL)
		abort();
	memset(out, 'Z', outlen);
	r = c5h_parse_authorization(header, out, outlen);
	CHECK(r == C5_AUTH_NONE || r == C5_AUTH_BEARER || r == C5_AUTH_BASIC);
	/* always NUL-terminated within outlen */
	CHECK(memchr(out, '\0', outlen) != NULL);
	/* no partial credentials left behind on failure */
	if (r == C5_AUTH_NONE)
		CHECK(out[0] == '\0');
	else
		CHECK(out[0] != '\0');
	*outp = out;
	return r;
}

static void
check_authorization(const char *header)
{
	char	   *big;
	C5AuthScheme r = parse_auth_checked(header, MAX_SECRET, &big);
	const char *scheme,
			   *cred,
			   *rest;
	size_t		schemelen,
				credlen,
				len = strlen(big);

	/* the header's two words, as RFC 9110 credentials */
	scheme = header;
	while (is_sp(*scheme))
		scheme++;
	for (schemelen = 0; scheme[schemelen] && !is_sp(scheme[schemelen]); schemelen++)
		;
	for (cred = scheme + schemelen; is_sp(*cred); cred++)
		;
	for (credlen = 0; cred[credlen] && !is_sp(cred[credlen]); credlen++)
		;
	for (rest = cred + credlen; is_sp(*rest); rest++)
		;

	if (r == C5_AUTH_BEARER)
	{
		CHECK(schemelen == 6 && *rest == '\0');
		CHECK(len == credlen && memcmp(big, cred, credlen) == 0);
	}
	else if (r == C5_AUTH_BASIC)
	{
		char	   *enc = b64_encode(big, len);
		size_t		stripped = credlen;

		CHECK(schemelen == 5 && *rest == '\0');
		CHECK(strchr(big, ':') != NULL);
		/* the decoding is the one whose encoding is the credential */
		while (stripped > 0 && cred[stripped - 1] == '=')
			stripped--;
		CHECK(strlen(enc) == stripped && memcmp(enc, cred, stripped) == 0);
		free(enc);
	}
	else if (schemelen == 6 && *rest == '\0' && credlen > 0 &&
			 credlen < MAX_SECRET)
	{
		/* a well-formed Bearer header that fits is never refused */
		size_t		i;
		int			bearer = 1;

		for (i = 0; i < 6; i++)
			if (ascii_lower(scheme[i]) != "bearer"[i])
				bearer = 0;
		CHECK(!bearer);
	}

	/* credentials fit exactly when their length plus NUL does */
	if (r != C5_AUTH_NONE)
	{
		char	   *o;

		CHECK(parse_auth_checked(header, len + 1, &o) == r);
		CHECK(strcmp(o, big) == 0);
		free(o);
		CHECK(parse_auth_checked(header, len, &o) == C5_AUTH_NONE);
		free(o);
	}
	free(big);
}

/* Headers built from a secret must parse back to it. */
static void
check_auth_roundtrip(const char *secret)
{
	size_t		len = strlen(secret);
	char	   *enc;
	char	   *hdr;
	char	   *out;
	size_t		i;
	int			has_space = 0;
	int			pad;

	if (len == 0 || len >= MAX_SECRET)
		return;
	for (i = 0; i < len; i++)
		if (is_sp(secret[i]))
			has_space = 1;

	hdr = malloc(len + 16);
	if (hdr == NULL)
		abort();
	if (!has_space)
	{
		snprintf(hdr, len + 16, " bEaReR\t%s ", secret);
		CHECK(parse_auth_checked(hdr, MAX_SECRET, &out) == C5_AUTH_BEARER);
		CHECK(strcmp(out, secret) == 0);
		free(out);
	}
	free(hdr);

	enc = b64_encode(secret, len);
	hdr = malloc(strlen(enc) + 16);
	if (hdr == NULL)
		abort();
	/* padding is optional: without it, and with the right amount */
	for (i = 0; i < 2; i++)
	{
		pad = i == 0 ? 0 : (int) ((3 - len % 3) % 3);
		sprintf(hdr, "Basic %s%.*s", enc, pad, "==");
		CHECK(parse_auth_checked(hdr, MAX_SECRET, &out) ==
			  (strchr(secret, ':') != NULL ? C5_AUTH_BASIC : C5_AUTH_NONE));
		if (strchr(secret, ':') != NULL)
			CHECK(strcmp(out, secret) == 0);
		free(out);
	}
	free(hdr);
	free(enc);
}

static void
check_secret_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	int			same = alen == blen && memcmp(a, b, alen) == 0;

	CHECK(c5h_secret_equal(a, alen, b, blen) == same);
	CHECK(c5h_secret_equal(b, blen, a, alen) == same);
	CHECK(c5h_secret_equal(a, alen, a, alen));
	if (alen > 0)
	{
		char	   *c = dup_exact(a, alen);

		c[alen - 1] ^= 1;
		CHECK(!c5h_secret_equal(a, alen, c, alen));
		CHECK(!c5h_secret_equal(a, alen, a, alen - 1));
		free(c);
	}
}

/* Answers negotiate.h documents, checked once so a broken build shows. */
static void
check_known_answers(void)
{
	char		out[64];

	CHECK(c5h_negotiate_format(NULL) == C5_FORMAT_TEXT);
	CHECK(c5h_negotiate_format("") == C5_FORMAT_TEXT);
	CHECK(c5h_negotiate_format("application/openmetrics-text;version=1.0.0,"
							   "application/openmetrics-text;version=0.0.1;q=0.75,"
							   "text/plain;version=0.0.4;q=0.5,*/*;q=0.1") ==
		  C5_FORMAT_OPENMETRICS);
	CHECK(c5h_negotiate_format("text/plain;version=0.0.4;q=0.5,*/*;q=0.1") ==
		  C5_FORMAT_TEXT);
	CHECK(c5h_negotiate_format("application/openmetrics-text;version=0.0.1") ==
		  C5_FORMAT_TEXT);
	CHECK(c5h_accepts_gzip(NULL) == false);
	CHECK(c5h_accepts_gzip("gzip") == true);
	CHECK(c5h_accepts_gzip("identity") == false);
	CHECK(c5h_accepts_gzip("gzip;q=0, *") == false);
	CHECK(c5h_parse_authorization(NULL, out, sizeof(out)) == C5_AUTH_NONE);
	CHECK(c5h_parse_authorization("Bearer abc", NULL, sizeof(out)) == C5_AUTH_NONE);
	CHECK(c5h_parse_authorization("Bearer abc", out, 0) == C5_AUTH_NONE);
	CHECK(c5h_parse_authorization("Bearer abc", out, sizeof(out)) == C5_AUTH_BEARER &&
		  strcmp(out, "abc") == 0);
	CHECK(c5h_parse_authorization("Basic dXNlcjpwYXNz", out, sizeof(out)) == C5_AUTH_BASIC &&
		  strcmp(out, "user:pass") == 0);
	CHECK(c5h_parse_authorization("Basic dXNlcg==", out, sizeof(out)) == C5_AUTH_NONE);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	check_known_answers();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *) data;
	const char *field[NFIELDS];
	size_t		fieldlen[NFIELDS];
	char	   *fs[NFIELDS];
	char	   *whole;
	size_t		start = 0;
	int			n = 0;
	int			i;

	/* split into up to NFIELDS fields; the last takes the rest */
	while (n < NFIELDS - 1)
	{
		const char *nl = memchr(p + start, '\n', size - start);

		if (nl == NULL)
			break;
		field[n] = p + start;
		fieldlen[n] = nl - (p + start);
		start = nl - p + 1;
		n++;
	}
	field[n] = p + start;
	fieldlen[n] = size - start;
	n++;
	for (i = n; i < NFIELDS; i++)
	{
		field[i] = "";
		fieldlen[i] = 0;
	}
	for (i = 0; i < NFIELDS; i++)
		fs[i] = dup_exact(field[i], fieldlen[i]);
	whole = dup_exact(p, size);

	check_accept(fs[0]);
	check_encoding(fs[1]);
	check_authorization(fs[2]);
	check_auth_roundtrip(fs[3]);
	check_secret_equal(field[2], fieldlen[2], field[3], fieldlen[3]);

	/* every parser also reads the whole input as one header */
	check_accept(whole);
	check_encoding(whole);
	check_authorization(whole);
	check_secret_equal(p, size, field[0], fieldlen[0]);

	for (i = 0; i < NFIELDS; i++)
		free(fs[i]);
	free(whole);
	return 0;
}
