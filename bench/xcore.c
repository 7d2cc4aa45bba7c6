/* How far apart the host has put this VM's two CPUs at the moment: the
 * round trip of one cache line between them, in nanoseconds.
 *
 *   cc -O2 -pthread -o /tmp/xcore bench/xcore.c && /tmp/xcore [CPU_A CPU_B]
 *
 * On this machine (a 2-vCPU VM on an AMD EPYC host) it is bimodal: about
 * 130 ns while the host runs both vCPUs on cores that share a cache, about
 * 460 ns while it runs them apart, and the host switches between the two
 * every few seconds to minutes, whatever runs inside the VM.  A vhost-user
 * benchmark is a stream of cache lines (rings, descriptors, frames) passed
 * between the generator's CPU and the switch's, so its figures move 3x with
 * the mode; bench/run.sh runs this before and after every vhost-user trial
 * and compares backends only between trials in the same mode.
 *
 * Two threads bounce a counter ROUNDS times, in BATCHES batches; the median
 * batch is printed, so a batch interrupted by a timer tick does not count.
 * It takes about a tenth of a second.  Run it with nothing else busy.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BATCHES 15
#define ROUNDS 10000

static _Alignas(64) atomic_long line;
static atomic_int done;

static void pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	int err = pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
	if (err) {
		fprintf(stderr, "xcore: cannot run on CPU %d\n", cpu);
		exit(1);
	}
}

/* The far side: answers every odd value with the next even one. */
static void *echo(void *arg)
{
	pin(*(int *)arg);
	while (!atomic_load_explicit(&done, memory_order_relaxed)) {
		long v = atomic_load_explicit(&line, memory_order_acquire);
		if (v & 1)
			atomic_store_explicit(&line, v + 1, memory_order_release);
	}
	return NULL;
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int a = argc > 2 ? atoi(argv[1]) : 0;
	int b = argc > 2 ? atoi(argv[2]) : 1;
	double batch[BATCHES];
	pthread_t t;

	pin(a);
	if (pthread_create(&t, NULL, echo, &b)) {
		fprintf(stderr, "xcore: cannot start a thread\n");
		return 1;
	}
	for (int i = 0; i < BATCHES; i++) {
		double t0 = now_ns();
		for (int r = 0; r < ROUNDS; r++) {
			long v = atomic_load_explicit(&line, memory_order_relaxed) + 1;
			atomic_store_explicit(&line, v, memory_order_release);
			while (atomic_load_explicit(&line, memory_order_acquire) == v)
				;
		}
		batch[i] = (now_ns() - t0) / ROUNDS;
	}
	atomic_store(&done, 1);
	pthread_join(t, NULL);
	qsort(batch, BATCHES, sizeof(batch[0]), cmp);
	printf("%.0f\n", batch[BATCHES / 2]);
	return 0;
}
