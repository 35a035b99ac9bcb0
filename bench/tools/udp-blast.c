// Sends a file of datagrams to 127.0.0.1:PORT as fast as the socket takes
// them (sendmmsg, 64 at a time), or at RATE datagrams per second in batches
// of about 0.1 ms (so pacing does not become bursts the size of a socket
// buffer): the replayer of the IPFIX loopback rows.
// A C sender costs the 2-core machine ~1 µs per datagram, where Node's
// dgram.send costs ~5: with Node the sender took a core's worth of the CPU
// the sensor needed, and the row measured the sender as much as the sensor.
//
// File: repeated [u32 little-endian length][datagram bytes].
// Usage: udp-blast FILE PORT [RATE]  (RATE 0 or absent: unpaced)
// Prints: "<datagrams> <seconds>" on stdout.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) { fprintf(stderr, "usage: udp-blast FILE PORT [RATE]\n"); return 2; }
  double rate = argc == 4 ? atof(argv[3]) : 0;
  FILE *f = fopen(argv[1], "rb");
  if (!f) { perror(argv[1]); return 1; }
  struct stat st;
  if (fstat(fileno(f), &st) != 0) { perror("fstat"); return 1; }
  uint8_t *buf = malloc(st.st_size ? st.st_size : 1);
  if (!buf || fread(buf, 1, st.st_size, f) != (size_t)st.st_size) { fprintf(stderr, "read failed\n"); return 1; }
  fclose(f);

  size_t n = 0, cap = 1024;
  struct iovec *iov = malloc(cap * sizeof *iov);
  for (size_t off = 0; off + 4 <= (size_t)st.st_size;) {
    uint32_t len = buf[off] | buf[off + 1] << 8 | buf[off + 2] << 16 | (uint32_t)buf[off + 3] << 24;
    off += 4;
    if (off + len > (size_t)st.st_size) { fprintf(stderr, "truncated file\n"); return 1; }
    if (n == cap) { cap *= 2; iov = realloc(iov, cap * sizeof *iov); }
    iov[n].iov_base = buf + off;
    iov[n].iov_len = len;
    n++;
    off += len;
  }

  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (connect(s, (struct sockaddr *)&to, sizeof to) != 0) { perror("connect"); return 1; }

  // paced: batches of ~0.1 ms of traffic (at least 1, at most BATCH)
  int batch = BATCH;
  if (rate > 0) {
    batch = (int)(rate / 10000);
    if (batch < 1) batch = 1;
    if (batch > BATCH) batch = BATCH;
  }
  struct mmsghdr msgs[BATCH];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (size_t i = 0; i < n;) {
    if (rate > 0) {
      // batch i is due at t0 + i / rate: sleep until then (absolute, so no drift)
      double due = i / rate;
      struct timespec at = t0;
      at.tv_sec += (time_t)due;
      at.tv_nsec += (long)((due - (time_t)due) * 1e9);
      if (at.tv_nsec >= 1000000000L) { at.tv_sec++; at.tv_nsec -= 1000000000L; }
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
    }
    int k = n - i < (size_t)batch ? (int)(n - i) : batch;
    memset(msgs, 0, sizeof msgs);
    for (int j = 0; j < k; j++) { msgs[j].msg_hdr.msg_iov = &iov[i + j]; msgs[j].msg_hdr.msg_iovlen = 1; }
    int r = sendmmsg(s, msgs, k, 0);
    if (r < 0) { perror("sendmmsg"); return 1; }
    i += r;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("%zu %.6f\n", n, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  return 0;
}
