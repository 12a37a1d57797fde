/*-------------------------------------------------------------------------
 *
 * negotiate.c
 *		Content negotiation and credential parsing for the HTTP worker.
 *
 * Everything here reads attacker-controlled bytes, which is why it is
 * small, allocation free, bounded by the input's NUL terminator, and
 * fuzzed (test/fuzz/).  Grammar from RFC 9110: a header is a comma list
 * of elements, each a token followed by ";"-separated parameters whose
 * values may be quoted strings.
 *
 *-------------------------------------------------------------------------
 */
#include "negotiate.h"

#include <string.h>

#define Q_ABSENT	(-1)		/* the range is not in the header */

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

static const char *
skip_space(const char *p)
{
	while (is_space(*p))
		p++;
	return p;
}

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Case-insensitive comparison of a [p, p+len) span with a literal. */
static bool
span_is(const char *p, size_t len, const char *lit)
{
	size_t		i;

	if (strlen(lit) != len)
		return false;
	for (i = 0; i < len; i++)
		if (lower(p[i]) != lit[i])
			return false;
	return true;
}

/* A token ends at whitespace, ',', ';', '=' or the end of the string. */
static size_t
token_len(const char *p)
{
	size_t		n = 0;

	while (p[n] && !is_space(p[n]) && p[n] != ',' && p[n] != ';' && p[n] != '=')
		n++;
	return n;
}

/*
 * A q-value: "0", "0.5", "1", "1.000" (at most three decimals).  Returned
 * in thousandths, or -2 when malformed.
 */
static int
parse_q(const char *p, size_t len)
{
	int			q;
	size_t		i;
	int			scale = 100;

	if (len == 0 || (p[0] != '0' && p[0] != '1'))
		return -2;
	q = (p[0] - '0') * 1000;
	if (len == 1)
		return q;
	if (p[1] != '.' || len > 5)
		return -2;
	for (i = 2; i < len; i++)
	{
		if (p[i] < '0' || p[i] > '9')
			return -2;
		q += (p[i] - '0') * scale;
		scale /= 10;
	}
	return q > 1000 ? -2 : q;
}

/*
 * One element of a list header: its token (media range or coding), the
 * value of its "version" parameter if any, and its q in thousandths.
 * Advances *pp past the element and its comma.  False at the end.
 */
typedef struct Element
{
	const char *token;
	size_t		tokenlen;
	const char *version;
	size_t		versionlen;
	int			q;
} Element;

static bool
next_element(const char **pp, Element *el)
{
	const char *p = *pp;

	memset(el, 0, sizeof(*el));
	el->q = 1000;

	/* skip empty elements: ", ," is allowed */
	while (*p == ',' || is_space(*p))
		p++;
	if (*p == '\0')
		return false;

	el->token = p;
	while (*p && *p != ',' && *p != ';' && !is_space(*p))
		p++;
	el->tokenlen = p - el->token;
	p = skip_space(p);

	while (*p == ';')
	{
		const char *name;
		size_t		namelen;
		const char *value = "";
		size_t		valuelen = 0;

		p = skip_space(p + 1);
		name = p;
		namelen = token_len(p);
		p = skip_space(p + namelen);
		if (*p == '=')
		{
			p = skip_space(p + 1);
			if (*p == '"')
			{
				/* quoted string, with backslash escapes */
				value = ++p;
				while (*p && *p != '"')
				{
					if (*p == '\\' && p[1])
						p++;
					p++;
				}
				valuelen = p - value;
				if (*p == '"')
					p++;
			}
			else
			{
				value = p;
				valuelen = token_len(p);
				p += valuelen;
			}
			p = skip_space(p);
		}
		if (span_is(name, namelen, "q"))
			el->q = parse_q(value, valuelen) < 0 ? 0 : parse_q(value, valuelen);
		else if (span_is(name, namelen, "version"))
		{
			el->version = value;
			el->versionlen = valuelen;
		}
		/* anything up to the next parameter or element is junk: skip it */
		while (*p && *p != ';' && *p != ',')
			p++;
	}
	while (*p && *p != ',')
		p++;
	if (*p == ',')
		p++;
	*pp = p;
	return true;
}

static int
max_q(int a, int b)
{
	return a > b ? a : b;
}

C5Format
c5h_negotiate_format(const char *accept)
{
	const char *p = accept;
	Element		el;
	int			om = Q_ABSENT,
				text = Q_ABSENT,
				app_any = Q_ABSENT,
				text_any = Q_ABSENT,
				any = Q_ABSENT;

	if (accept == NULL)
		return C5_FORMAT_TEXT;

	while (next_element(&p, &el))
	{
		if (span_is(el.token, el.tokenlen, "application/openmetrics-text"))
		{
			if (el.version == NULL || span_is(el.version, el.versionlen, "1.0.0"))
				om = max_q(om, el.q);
		}
		else if (span_is(el.token, el.tokenlen, "text/plain"))
		{
			if (el.version == NULL || span_is(el.version, el.versionlen, "0.0.4"))
				text = max_q(text, el.q);
		}
		else if (span_is(el.token, el.tokenlen, "application/*"))
			app_any = max_q(app_any, el.q);
		else if (span_is(el.token, el.tokenlen, "text/*"))
			text_any = max_q(text_any, el.q);
		else if (span_is(el.token, el.tokenlen, "*/*"))
			any = max_q(any, el.q);
	}

	/* the most specific range that names a format decides its q */
	if (om == Q_ABSENT)
		om = app_any != Q_ABSENT ? app_any : any;
	if (text == Q_ABSENT)
		text = text_any != Q_ABSENT ? text_any : any;

	return (om > 0 && om > text) ? C5_FORMAT_OPENMETRICS : C5_FORMAT_TEXT;
}

bool
c5h_accepts_gzip(const char *accept_encoding)
{
	const char *p = accept_encoding;
	Element		el;
	int			gzip = Q_ABSENT,
				any = Q_ABSENT;

	if (accept_encoding == NULL)
		return false;
	while (next_element(&p, &el))
	{
		if (span_is(el.token, el.tokenlen, "gzip") ||
			span_is(el.token, el.tokenlen, "x-gzip"))
			gzip = max_q(gzip, el.q);
		else if (span_is(el.token, el.tokenlen, "*"))
			any = max_q(any, el.q);
	}
	if (gzip == Q_ABSENT)
		gzip = any;
	return gzip > 0;
}

/* ---- Authorization ---- */

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decode standard base64 (padding optional) into out; false if malformed,
 * if it decodes to a NUL byte, or if it does not fit with its terminator.
 */
static bool
b64_decode(const char *in, size_t inlen, char *out, size_t outlen)
{
	size_t		n = 0;
	unsigned int acc = 0;
	int			bits = 0;
	size_t		i;

	while (inlen > 0 && in[inlen - 1] == '=')
		inlen--;
	for (i = 0; i < inlen; i++)
	{
		int			v = b64_value(in[i]);

		if (v < 0)
			return false;
		acc = (acc << 6) | (unsigned int) v;
		bits += 6;
		if (bits >= 8)
		{
			char		c;

			bits -= 8;
			c = (char) ((acc >> bits) & 0xFF);
			if (c == '\0' || n + 1 >= outlen)
				return false;
			out[n++] = c;
		}
	}
	/* leftover bits must be zero padding, and a single leftover char is invalid */
	if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
		return false;
	out[n] = '\0';
	return true;
}

C5AuthScheme
c5h_parse_authorization(const char *header, char *out, size_t outlen)
{
	const char *p;
	const char *cred;
	size_t		schemelen;
	size_t		credlen;

	if (header == NULL || out == NULL || outlen == 0)
		return C5_AUTH_NONE;
	out[0] = '\0';
	p = skip_space(header);
	schemelen = 0;
	while (p[schemelen] && !is_space(p[schemelen]))
		schemelen++;
	cred = skip_space(p + schemelen);
	credlen = 0;
	while (cred[credlen] && !is_space(cred[credlen]))
		credlen++;
	/* exactly one credential token, nothing after it */
	if (credlen == 0 || *skip_space(cred + credlen) != '\0')
		return C5_AUTH_NONE;

	if (span_is(p, schemelen, "bearer"))
	{
		if (credlen + 1 > outlen)
			return C5_AUTH_NONE;
		memcpy(out, cred, credlen);
		out[credlen] = '\0';
		return C5_AUTH_BEARER;
	}
	if (span_is(p, schemelen, "basic"))
	{
		if (!b64_decode(cred, credlen, out, outlen) || strchr(out, ':') == NULL)
		{
			out[0] = '\0';
			return C5_AUTH_NONE;
		}
		return C5_AUTH_BASIC;
	}
	return C5_AUTH_NONE;
}

bool
c5h_secret_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char diff = (unsigned char) (alen != blen);
	size_t		n = alen > blen ? alen : blen;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		unsigned char ca = i < alen ? (unsigned char) a[i] : 0;
		unsigned char cb = i < blen ? (unsigned char) b[i] : 0;

		diff |= ca ^ cb;
	}
	return diff == 0;
}
