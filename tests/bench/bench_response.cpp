// Response parser throughput (PROTOCOL.md §3; targets: >= 2 M flag-FETCH responses/s and
// >= 1 GB/s through streamed BODY[] literals on one core). Also counts heap allocations per
// flag FETCH (must be 0 once the reused Response has warmed up). Not a ctest test.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include <twinbox/imap/parser.hpp>

namespace {
std::atomic<std::uint64_t> g_allocs{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace twinbox;
using namespace twinbox::imap;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

constexpr std::size_t kChunk = 64 * 1024;

void bench_flag_fetch() {
  std::string wire;
  const int n = 200000;
  for (int i = 1; i <= n; ++i) {
    wire += "* " + std::to_string(i) + " FETCH (UID " + std::to_string(i + 1000) +
            " FLAGS (\\Seen $Label1" + (i % 3 == 0 ? " \\Flagged" : "") + ") MODSEQ (" +
            std::to_string(9000000000ULL + static_cast<unsigned>(i)) + "))\r\n";
  }
  Response r;
  std::uint64_t total = 0;
  std::uint64_t uid_sum = 0;
  const int rounds = 10;
  std::uint64_t allocs = 0;
  auto t0 = Clock::now();
  for (int round = 0; round < rounds; ++round) {
    ResponseParser p;
    if (round == 1) allocs = g_allocs.load();
    for (std::size_t off = 0; off < wire.size(); off += kChunk) {
      p.feed(std::string_view(wire).substr(off, kChunk));
      while (p.next(r) == ParseStatus::Ok) {
        ++total;
        uid_sum += std::get<FetchData>(r).uid->value;
      }
    }
    if (p.failed()) {
      std::printf("parse error: %s\n", p.error().message.c_str());
      std::exit(1);
    }
  }
  const double s = seconds_since(t0);
  allocs = g_allocs.load() - allocs;
  std::printf("flag FETCH:       %10.0f responses/s  %8.1f MB/s  (%llu responses, %.3f s, "
              "%.4f allocations/response after warm-up, checksum %llu)\n",
              static_cast<double>(total) / s,
              static_cast<double>(wire.size()) * rounds / s / 1e6,
              static_cast<unsigned long long>(total), s,
              static_cast<double>(allocs) / (static_cast<double>(total) * (rounds - 1) / rounds),
              static_cast<unsigned long long>(uid_sum));
}

struct CountingSink : LiteralSink {
  std::uint64_t octets = 0;
  std::uint64_t literals = 0;
  unsigned char x = 0;
  Status begin(SeqNum, std::string_view, std::uint64_t) override {
    ++literals;
    return {};
  }
  Status chunk(std::string_view data) override {
    octets += data.size();
    x ^= static_cast<unsigned char>(data.front() ^ data.back());
    return {};
  }
  Status end() override { return {}; }
};

void bench_bodies(bool streamed) {
  const std::size_t body_size = 4u << 20;  // 4 MiB messages
  const int messages = 64;                 // 256 MiB per run
  std::string body(body_size, 'x');
  for (std::size_t i = 0; i < body.size(); i += 77) body[i] = '\n';
  ResponseParser p;
  CountingSink sink;
  if (streamed) p.set_literal_sink(&sink, 0);
  Response r;
  std::uint64_t bytes = 0;
  std::uint64_t responses = 0;
  std::uint64_t buffered_octets = 0;
  auto t0 = Clock::now();
  for (int m = 1; m <= messages; ++m) {
    const std::string head = "* " + std::to_string(m) + " FETCH (UID " + std::to_string(m) +
                             " RFC822.SIZE " + std::to_string(body_size) + " BODY[] {" +
                             std::to_string(body_size) + "}\r\n";
    p.feed(head);
    bytes += head.size();
    for (std::size_t off = 0; off < body.size(); off += kChunk) {
      std::string_view piece = std::string_view(body).substr(off, kChunk);
      p.feed(piece);
      bytes += piece.size();
      while (p.next(r) == ParseStatus::Ok) ++responses;
    }
    p.feed(" FLAGS (\\Seen))\r\n");
    bytes += 17;
    while (p.next(r) == ParseStatus::Ok) {
      ++responses;
      for (const auto& b : std::get<FetchData>(r).bodies) buffered_octets += b.data ? b.data->size() : 0;
    }
    if (p.failed()) {
      std::printf("parse error: %s\n", p.error().message.c_str());
      std::exit(1);
    }
  }
  const double s = seconds_since(t0);
  std::printf("BODY[] %-9s  %10.0f responses/s  %8.1f MB/s  (%llu x %zu MiB, %.3f s, "
              "%llu octets to sink, %llu buffered)\n",
              streamed ? "streamed:" : "buffered:", static_cast<double>(responses) / s,
              static_cast<double>(bytes) / s / 1e6, static_cast<unsigned long long>(responses),
              body_size >> 20, s, static_cast<unsigned long long>(sink.octets),
              static_cast<unsigned long long>(buffered_octets));
}

}  // namespace

int main() {
  bench_flag_fetch();
  bench_bodies(true);
  bench_bodies(false);
  return 0;
}
