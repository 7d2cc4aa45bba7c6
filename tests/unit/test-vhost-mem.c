/* Guest memory a hostile frontend shrinks under us (vhost-mem.h). */
#include "unit.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vhost/vhost-mem.h"

#define GPA 0x100000ull
#define SIZE 8192u

static int map_memfd(struct vhost_mem *m, unsigned flags, int *fd_out)
{
	int fd = memfd_create("guest", flags);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, SIZE), 0);
	uint8_t pattern[SIZE];
	memset(pattern, 0xab, sizeof(pattern));
	assert_int_equal(pwrite(fd, pattern, SIZE, 0), SIZE);
	struct vhost_user_mem msg = { .nregions = 1 };
	msg.regions[0] = (struct vhost_user_region){ GPA, SIZE, 0x7f0000000000ull, 0 };
	const char *why = NULL;
	int r = vhost_mem_map(m, &msg, &fd, 1, &why);
	*fd_out = fd;
	return r;
}

static void shrunk_memory_reads_zero_and_poisons(void **state)
{
	struct vhost_mem m = { 0 };
	int fd;
	assert_int_equal(map_memfd(&m, 0, &fd), 0); /* not sealable, like DPDK's */
	uint64_t contig;
	volatile uint8_t *p = vhost_mem_gpa(&m, GPA + 4096, 1, &contig);
	assert_non_null(p);
	assert_int_equal(p[0], 0xab);
	assert_false(m.poisoned);
	assert_int_equal(ftruncate(fd, 0), 0); /* the frontend shrinks it */
	assert_int_equal(p[0], 0);	     /* no SIGBUS: a zero page */
	assert_true(m.poisoned);
	p[1] = 7; /* writable too */
	vhost_mem_unmap(&m);
	assert_false(m.poisoned);
	close(fd);
}

static void sealable_memory_cannot_shrink(void **state)
{
	struct vhost_mem m = { 0 };
	int fd;
	assert_int_equal(map_memfd(&m, MFD_ALLOW_SEALING, &fd), 0);
	assert_int_equal(ftruncate(fd, 0), -1); /* sealed by the backend */
	vhost_mem_unmap(&m);
	close(fd);
}

static void other_sigbus_still_kills(void **state)
{
	/* The handler only covers guest memory: a SIGBUS elsewhere (a bug of
	 * ours) must still stop the process, not be papered over. */
	struct vhost_mem m = { 0 };
	int fd;
	assert_int_equal(map_memfd(&m, 0, &fd), 0); /* installs the handler */
	pid_t pid = fork();
	if (pid == 0) {
		int f = memfd_create("other", 0);
		if (f < 0 || ftruncate(f, 4096) < 0)
			_exit(2);
		volatile uint8_t *q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, f, 0);
		if (q == MAP_FAILED || ftruncate(f, 0) < 0)
			_exit(2);
		(void)q[0];
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGBUS);
	vhost_mem_unmap(&m);
	close(fd);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(shrunk_memory_reads_zero_and_poisons),
	cmocka_unit_test(sealable_memory_cannot_shrink),
	cmocka_unit_test(other_sigbus_still_kills),
};

UNIT_MAIN(tests)
