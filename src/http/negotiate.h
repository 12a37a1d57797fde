/*-------------------------------------------------------------------------
 *
 * negotiate.h
 *		Parsers of the request headers the HTTP worker reads.
 *
 * Plain C with no PostgreSQL dependency, so that the fuzz targets in
 * test/fuzz/ can link them alone.  Every function takes untrusted input,
 * never reads past the NUL terminator, never allocates, and never fails
 * in any other way than returning "not acceptable" / "no credentials".
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5_NEGOTIATE_H
#define C5_NEGOTIATE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum C5Format
{
	C5_FORMAT_TEXT,				/* text/plain; version=0.0.4 */
	C5_FORMAT_OPENMETRICS		/* application/openmetrics-text; version=1.0.0 */
} C5Format;

/*
 * Which exposition format an Accept header prefers.  OpenMetrics only when
 * it is acceptable (version absent or 1.0.0) with a q-value strictly above
 * that of the text format; everything else, a NULL or malformed header
 * included, gets the text format.
 */
extern C5Format c5h_negotiate_format(const char *accept);

/* Does an Accept-Encoding header allow gzip (q > 0, or via "*")? */
extern bool c5h_accepts_gzip(const char *accept_encoding);

typedef enum C5AuthScheme
{
	C5_AUTH_NONE,				/* absent or not understood */
	C5_AUTH_BEARER,
	C5_AUTH_BASIC
} C5AuthScheme;

/*
 * Parse an Authorization header.  For Bearer, the token is copied to
 * `out`; for Basic, the base64 credentials are decoded into `out`
 * ("user:password").  Returns C5_AUTH_NONE when the header is absent,
 * malformed, or does not fit in `outlen` bytes (NUL included).
 */
extern C5AuthScheme c5h_parse_authorization(const char *header, char *out,
											size_t outlen);

/* Compare two secrets in time that depends only on their lengths. */
extern bool c5h_secret_equal(const char *a, size_t alen, const char *b,
							 size_t blen);

#endif							/* C5_NEGOTIATE_H */
