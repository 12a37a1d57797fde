/*-------------------------------------------------------------------------
 *
 * statefile.c
 *		The one way c5metrics writes and reads its state files.
 *
 * The registry (persist.c), the SLI ring (sli.c) and the outcomes parked
 * for prepared transactions (twophase.c) each keep a file in
 * pg_stat/.  Each is written to a temporary name, fsynced and renamed
 * durably into place, so that a reader never sees half a file; what sits
 * at a file's name is made way for first (a directory a user left there
 * included), and a file is opened for reading only if it is a regular
 * file of ours.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "storage/fd.h"

#include "statefile.h"


static int
remove_entry(const char *path, const struct stat *st)
{
	return S_ISDIR(st->st_mode) ? rmdir(path) : unlink(path);
}

/* Remove what sits at a state file's name, an empty directory included. */
void
c5m_state_remove(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		(void) remove_entry(path, &st);
}

/*
 * Make way for a state file about to be written at `path`.  Whatever sits
 * there and is not a regular file the server can write -- a symbolic link,
 * a directory, a read-only file -- is removed with a message at `elevel`;
 * a link is never followed.  keep_file keeps a writable regular file, so
 * that renaming over it stays atomic; otherwise that is removed quietly
 * (a temporary file left by a failed save).  Returns false, having
 * reported at `elevel`, when the way stays blocked (a directory that is
 * not empty, say).
 */
bool
c5m_state_make_way(const char *path, bool keep_file, int elevel)
{
	struct stat st;
	bool		writable;

	if (lstat(path, &st) != 0)
	{
		if (errno == ENOENT)
			return true;
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));
		return false;
	}
	writable = S_ISREG(st.st_mode) && access(path, W_OK) == 0;
	if (writable && keep_file)
		return true;
	if (!writable)
		ereport(elevel,
				(errmsg("removing \"%s\": it is not a regular file the server can write",
						path)));
	if (remove_entry(path, &st) != 0)
	{
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not remove \"%s\": %m", path)));
		return false;
	}
	return true;
}

/*
 * Open a new state file under its temporary name `tmp`, after making way
 * for it.  NULL, reported at `elevel`, if it cannot be created.
 */
FILE *
c5m_state_create(const char *tmp, int elevel)
{
	FILE	   *f;

	if (!c5m_state_make_way(tmp, false, elevel))
		return NULL;
	f = AllocateFile(tmp, PG_BINARY_W);
	if (f == NULL)
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not write c5metrics file \"%s\": %m", tmp)));
	return f;
}

/*
 * Move a written temporary file into place with durable_rename, which
 * fsyncs the old file at `path` first and so would follow a symbolic link
 * there: make way for it.  On failure, reported at `elevel`, the
 * temporary file is removed.
 */
bool
c5m_state_install(const char *tmp, const char *path, int elevel)
{
	if (!c5m_state_make_way(path, true, elevel) ||
		durable_rename(tmp, path, elevel) != 0)
	{
		unlink(tmp);
		return false;
	}
	return true;
}

/*
 * Open a state file to load it.  NULL with *problem NULL when there is
 * nothing to load (a file that cannot be opened is reported at LOG); NULL
 * with *problem set when what sits there is not a regular file.
 */
FILE *
c5m_state_open(const char *path, const char **problem)
{
	struct stat st;
	FILE	   *f;

	*problem = NULL;
	if (lstat(path, &st) != 0)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not stat file \"%s\": %m", path)));
		return NULL;
	}
	if (!S_ISREG(st.st_mode))
	{
		*problem = "it is not a regular file";
		return NULL;
	}
	f = AllocateFile(path, PG_BINARY_R);
	if (f == NULL)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not read c5metrics file \"%s\": %m", path)));
	return f;
}
