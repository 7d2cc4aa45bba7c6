/* What a wakeup costs on this machine: the floor under every figure where
 * a frame is handed from one process to another (ping RTT through a
 * userspace switch, 64-byte UDP with the endpoints on the same two cores).
 *
 *   cc -O2 -o /tmp/wakeup bench/wakeup.c && /tmp/wakeup
 *
 * Two processes bounce a byte over a pair of pipes, 2,000 times, with 1 ms
 * of sleep between rounds so that the other side is asleep (and its CPU
 * idle) when the byte arrives, as a switch is between pings.  Printed: the
 * round trip (two wakeups) with both on one CPU and on different CPUs.  On
 * a VM, waking a task on an idle virtual CPU costs an interrupt to that vCPU
 * through the hypervisor.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 2000

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof(s), &s) < 0) {
		perror("sched_setaffinity");
		exit(1);
	}
}

/* Mean round trip in microseconds between a process on cpu a and one on b. */
static double round_trip(int a, int b)
{
	int to[2], from[2];
	char x = 0;
	if (pipe(to) < 0 || pipe(from) < 0) {
		perror("pipe");
		exit(1);
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		pin(b);
		for (int i = 0; i < ROUNDS; i++)
			if (read(to[0], &x, 1) != 1 || write(from[1], &x, 1) != 1)
				_exit(1);
		_exit(0);
	}
	pin(a);
	usleep(10000);
	double total = 0;
	for (int i = 0; i < ROUNDS; i++) {
		double t = now();
		if (write(to[1], &x, 1) != 1 || read(from[0], &x, 1) != 1) {
			perror("pipe round trip");
			exit(1);
		}
		total += now() - t;
		usleep(1000);
	}
	waitpid(pid, NULL, 0);
	for (int i = 0; i < 2; i++) {
		close(to[i]);
		close(from[i]);
	}
	return total / ROUNDS * 1e6;
}

int main(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	printf("same CPU (0, 0): %.1f us per round trip\n", round_trip(0, 0));
	if (n > 1)
		printf("two CPUs (0, 1): %.1f us per round trip\n", round_trip(0, 1));
	return 0;
}
