// podnet-bench: podnet side by side with the reference plugins (ptp + host-local),
// in one run, on this machine. See tests/bench/README.md for what it measures.
//
// It runs as root inside network namespaces it creates (a node for podnet, one
// for the reference, one for the kernel floor, and N pods for each), and
// deletes them on exit; tests/bench/run.sh wraps it with a trap that also
// deletes them when it dies. Nothing is configured in the caller's namespace.
//
// Every plugin process is forked into its node's namespace and reaped with
// wait4: the wall time is fork -> reaped, ru_utime + ru_stime its CPU time
// including the children it reaped. Peak RSS (ru_maxrss; for ptp: of ptp or
// the host-local it execs, whichever is larger) is measured in a phase of its
// own through podnet-bench-rss (rss_spawn.c), a small static parent: ru_maxrss
// counts the pages a process had before exec, and a fork of this driver has
// the driver's.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

namespace {

void (*gCleanup)() = nullptr;  // deletes what the bench made; set while a Bench runs

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "podnet-bench: %s\n", msg.c_str());
  if (auto c = gCleanup) {
    gCleanup = nullptr;
    c();
  }
  std::exit(1);
}

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// ---------------------------------------------------------------- processes

struct Proc {
  double ms = 0;
  int status = -1;
  long maxrssKb = 0;
  double cpuMs = 0;  // user + system, of the process and the children it reaped
  std::string out;   // stdout and stderr
  bool timedOut = false;
  bool ok() const { return !timedOut && WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

Proc spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& in,
           double timeoutMs = 0, int netnsFd = -1) {
  int inPipe[2], outPipe[2];
  if (pipe2(inPipe, O_CLOEXEC) != 0 || pipe2(outPipe, O_CLOEXEC) != 0) die("pipe2 failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, inPipe[0], 0);
  posix_spawn_file_actions_adddup2(&fa, outPipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, outPipe[1], 2);
  std::vector<char*> av, ev;
  for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  for (const auto& e : env) ev.push_back(const_cast<char*>(e.c_str()));
  ev.push_back(nullptr);
  Proc p;
  const auto t0 = Clock::now();
  pid_t pid = -1;
  // fork, not posix_spawn: posix_spawn's child shares our memory until it
  // execs, and the kernel counts the pre-exec RSS in the child's ru_maxrss.
  // A forked child's pre-exec RSS is only our anonymous pages (small), so
  // ru_maxrss is the plugin's own peak. The child calls only async-signal-safe
  // functions (multi-threaded parent).
  const bool searchPath = argv[0].find('/') == std::string::npos;
  std::string resolved = argv[0];
  if (searchPath) {
    for (const char* dir : {"/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"})
      if (::access((std::string(dir) + argv[0]).c_str(), X_OK) == 0) {
        resolved = std::string(dir) + argv[0];
        break;
      }
  }
  int rc = 0;
  pid = ::fork();
  if (pid == 0) {
    if (netnsFd >= 0 && ::setns(netnsFd, CLONE_NEWNET) != 0) ::_exit(126);
    ::dup2(inPipe[0], 0);
    ::dup2(outPipe[1], 1);
    ::dup2(outPipe[1], 2);
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    ::sigaction(SIGPIPE, &sa, nullptr);  // the bench ignores it; the plugin gets the default
    ::execve(resolved.c_str(), av.data(), ev.data());
    ::_exit(127);
  }
  if (pid < 0) rc = errno;
  posix_spawn_file_actions_destroy(&fa);
  ::close(inPipe[0]);
  ::close(outPipe[1]);
  if (rc != 0) {
    ::close(inPipe[1]);
    ::close(outPipe[0]);
    p.out = std::string("spawn ") + argv[0] + ": " + std::strerror(rc);
    return p;
  }
  // The inputs are small (a config): they fit the pipe, the child reads them when it likes.
  for (std::size_t done = 0; done < in.size();) {
    const ssize_t n = ::write(inPipe[1], in.data() + done, in.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(inPipe[1]);
  char buf[8192];
  for (;;) {
    if (timeoutMs > 0) {
      const double left = timeoutMs - msSince(t0);
      pollfd pf{outPipe[0], POLLIN, 0};
      if (left <= 0 || ::poll(&pf, 1, static_cast<int>(left) + 1) == 0) {
        if (msSince(t0) >= timeoutMs) {
          ::kill(pid, SIGKILL);  // our own child, by PID
          p.timedOut = true;
          break;
        }
        continue;
      }
    }
    const ssize_t n = ::read(outPipe[0], buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    p.out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(outPipe[0]);
  struct rusage ru {};
  while (wait4(pid, &p.status, 0, &ru) < 0 && errno == EINTR) {
  }
  p.ms = msSince(t0);
  p.maxrssKb = ru.ru_maxrss;
  p.cpuMs = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
            static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
  return p;
}

// A command run for setup or cleanup; its failure is fatal when `must`.
bool sh(const std::vector<std::string>& argv, bool must = true, const std::string& in = {}) {
  const Proc p = spawn(argv, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, in);
  if (!p.ok() && must) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    die("command failed: " + cmd + "\n" + p.out);
  }
  return p.ok();
}

// ---------------------------------------------------------------- statistics

struct Stats {
  std::vector<double> v;
  void add(double x) { v.push_back(x); }
  std::size_t n() const { return v.size(); }
  double pct(double q) const {
    if (v.empty()) return NAN;
    auto s = v;
    std::sort(s.begin(), s.end());
    // nearest rank
    auto k = static_cast<std::size_t>(std::ceil(q / 100.0 * static_cast<double>(s.size())));
    return s[std::clamp<std::size_t>(k, 1, s.size()) - 1];
  }
  double mean() const {
    if (v.empty()) return NAN;
    double t = 0;
    for (double x : v) t += x;
    return t / static_cast<double>(v.size());
  }
  double max() const { return v.empty() ? NAN : *std::max_element(v.begin(), v.end()); }
  double min() const { return v.empty() ? NAN : *std::min_element(v.begin(), v.end()); }
  json toJson() const {
    return {{"n", n()}, {"p50", pct(50)}, {"p99", pct(99)}, {"mean", mean()}, {"min", min()}, {"max", max()}};
  }
};

// ---------------------------------------------------------------- raw netlink (the in-process floor)

class Nl {
 public:
  Nl() {
    fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd_ < 0) die("netlink socket");
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) die("netlink bind");
  }
  Nl(const Nl&) = delete;
  ~Nl() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Messages are appended to one buffer and sent in one write; talk() reads every ACK.
  void begin(uint16_t type, uint16_t flags) {
    start_ = buf_.size();
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = static_cast<uint16_t>(flags | NLM_F_REQUEST | NLM_F_ACK);
    h.nlmsg_seq = ++seq_;
    put(&h, sizeof h);
    ++pending_;
  }
  template <class T>
  void body(const T& t) {
    put(&t, sizeof t);
  }
  void attr(uint16_t type, const void* data, std::size_t len) {
    rtattr a{};
    a.rta_type = type;
    a.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
    put(&a, sizeof a);
    put(data, len);
  }
  void attrStr(uint16_t type, const std::string& s) { attr(type, s.c_str(), s.size() + 1); }
  template <class T>
  void attrVal(uint16_t type, T v) {
    attr(type, &v, sizeof v);
  }
  std::size_t nest(uint16_t type) {
    const std::size_t at = buf_.size();
    rtattr a{};
    a.rta_type = type;
    put(&a, sizeof a);
    return at;
  }
  void endNest(std::size_t at) {
    reinterpret_cast<rtattr*>(buf_.data() + at)->rta_len = static_cast<unsigned short>(buf_.size() - at);
  }
  void end() {
    reinterpret_cast<nlmsghdr*>(buf_.data() + start_)->nlmsg_len =
        static_cast<uint32_t>(buf_.size() - start_);
  }

  // Sends the batch, waits for every ACK; returns the first error (0 = all ok).
  int talk() {
    if (::send(fd_, buf_.data(), buf_.size(), 0) < 0)
      die(std::string("netlink send: ") + std::strerror(errno));
    buf_.clear();
    int firstErr = 0;
    const uint32_t firstSeq = seq_ - static_cast<uint32_t>(pending_) + 1;
    alignas(nlmsghdr) char rb[16384];
    while (pending_ > 0) {
      ssize_t got = ::recv(fd_, rb, sizeof rb, 0);
      if (got < 0) {
        if (errno == EINTR) continue;
        die("netlink recv");
      }
      int n = static_cast<int>(got);
      for (auto* h = reinterpret_cast<nlmsghdr*>(rb); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_ERROR) {
          const auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
          if (e->error != 0 && firstErr == 0) {
            firstErr = -e->error;
            errSeq = e->msg.nlmsg_seq - firstSeq;
          }
          --pending_;
        }
      }
    }
    return firstErr;
  }

 private:
  void put(const void* p, std::size_t len) {
    const auto* c = static_cast<const char*>(p);
    buf_.insert(buf_.end(), c, c + len);
    buf_.resize(NLMSG_ALIGN(buf_.size()), 0);
  }
  int fd_ = -1;
  uint32_t seq_ = 0;

 public:
  uint32_t errSeq = 0;  // which message of the last batch failed first (0-based)

 private:
  int pending_ = 0;
  std::size_t start_ = 0;
  std::vector<char> buf_;
};

uint32_t v4(const std::string& s) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) die("bad address " + s);
  return a.s_addr;
}

void setUp(Nl& nl, int index) {
  nl.begin(RTM_NEWLINK, 0);
  ifinfomsg m{};
  m.ifi_index = index;
  m.ifi_flags = IFF_UP;
  m.ifi_change = IFF_UP;
  nl.body(m);
  nl.end();
}

void addAddr(Nl& nl, int index, uint32_t addr) {
  nl.begin(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  ifaddrmsg m{};
  m.ifa_family = AF_INET;
  m.ifa_prefixlen = 32;
  m.ifa_index = static_cast<unsigned>(index);
  nl.body(m);
  nl.attrVal(IFA_LOCAL, addr);
  nl.attrVal(IFA_ADDRESS, addr);
  nl.end();
}

void addRoute(Nl& nl, int oif, std::optional<uint32_t> dst, std::optional<uint32_t> gw) {
  nl.begin(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  rtmsg m{};
  m.rtm_family = AF_INET;
  m.rtm_dst_len = dst ? 32 : 0;
  m.rtm_table = RT_TABLE_MAIN;
  m.rtm_protocol = RTPROT_BOOT;
  m.rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  m.rtm_type = RTN_UNICAST;
  nl.body(m);
  if (dst) nl.attrVal(RTA_DST, *dst);
  if (gw) nl.attrVal(RTA_GATEWAY, *gw);
  nl.attrVal(RTA_OIF, static_cast<uint32_t>(oif));
  nl.end();
}

std::string fmtMs(double x);

// ---------------------------------------------------------------- the bench

struct Options {
  std::string bin;                    // podnet, podnet-ipam, cnitool
  std::string ref = "/usr/lib/cni";   // ptp, host-local
  std::string tmp;                    // configs, caches, dataDirs
  std::string ipamRoot = "/dev/shm";  // where the IPAM fill test makes its dataDirs
  std::string dataRoot;               // the pods' IPAM dataDirs and libcni's cache (default: under tmp)
  std::string prefix;                 // network namespace name prefix
  std::string jsonPath;
  std::string noopDir;    // holds podnet-bench-noop (tests/bench/noop_plugin.c): the client's own cost
  std::string rssHelper;  // podnet-bench-rss (tests/bench/rss_spawn.c): a process's own peak RSS
  int pods = 200;
  int parallel = 8;
  int rounds = 2;
  int ipamReps = 30;
  int startupReps = 100;
  double ipamNearlyFull = 0.99;
  int ipamPrefix = 16;
  double ipamColdTimeoutMs = 120000;
  double ipamOpTimeoutMs = 30000;
  double ipamLevelBudgetMs = 20000;
  bool skipIpam = false;
  bool quick = false;
};

struct Impl {
  std::string key;    // "podnet" | "reference"
  std::string label;  // for the table
  std::string net;    // network name
  std::string pluginPath;
  std::string pluginConf;  // the flattened config a runtime hands the plugin
  std::string node = {};   // its node namespace (each implementation has its own node and pods)
  std::string podPrefix = {};
  int nodeFd = -1;
  // A long-lived libcni client (cnitool serve) in the node, as containerd keeps one.
  std::string serverSocket = {};
  pid_t serverPid = -1;
  int serverStdin = -1;  // closing it ends the server
};

class Bench {
 public:
  explicit Bench(Options o) : o_(std::move(o)) {}
  ~Bench() { cleanup(); }

  void run();
  void cleanup();

 private:
  std::string ns(const std::string& suffix) const { return o_.prefix + "-" + suffix; }
  // Where /var/lib/cni would be: the pods' IPAM dataDirs and libcni's result cache.
  std::string dataDir() const { return o_.dataRoot.empty() ? o_.tmp : dataTmp_; }
  std::string podNs(int i) const { return ns("p" + std::to_string(i)); }
  std::string podPath(int i) const { return "/run/netns/" + podNs(i); }
  std::string podNs(const Impl& im, int i) const { return ns(im.podPrefix + std::to_string(i)); }
  std::string podPath(const Impl& im, int i) const { return "/run/netns/" + podNs(im, i); }
  std::string cniPath() const { return o_.bin + ":" + o_.ref + (o_.noopDir.empty() ? "" : ":" + o_.noopDir); }

  void setup();
  void sweep();

  std::vector<std::string> cnitoolEnv(const Impl& im, const std::string& id) const {
    return {"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "NETCONFPATH=" + o_.tmp + "/net.d",
            "CNI_PATH=" + cniPath(),
            "CNI_CACHE_DIR=" + dataDir() + "/cache-" + im.key,
            "CNI_CONTAINERID=" + id,
            "CNI_IFNAME=eth0"};
  }
  std::vector<std::string> pluginEnv(const std::string& cmd, const std::string& id,
                                     const std::string& netns) const {
    return {"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "CNI_COMMAND=" + cmd,
            "CNI_CONTAINERID=" + id,
            "CNI_NETNS=" + netns,
            "CNI_IFNAME=eth0",
            "CNI_PATH=" + cniPath()};
  }

  // One operation on pod i: returns the process (or a synthetic one for in-process work).
  using Op = std::function<Proc(int i)>;
  Op opCnitool(const Impl& im, bool add, const std::string& tag) const;
  Op opDirect(const Impl& im, bool add, const std::string& tag) const;
  Op opServer(const Impl& im, bool add, const std::string& tag) const;
  Op opVia(const std::string& via, const Impl& im, bool add, const std::string& tag) const {
    if (via == "exec") return opDirect(im, add, tag);
    if (via == "server") return opServer(im, add, tag);
    return opCnitool(im, add, tag);
  }
  void startServer(Impl& im);
  Op opIpFloor(bool add, const std::string& tag) const;
  Op opNetlinkFloor(bool add) const;

  // Runs op on every pod, `parallel` at a time; returns {latencies, wall ms, rss, errors}.
  struct PhaseResult {
    Stats lat;
    Stats rss;
    Stats cpu;
    double wallMs = 0;
    int errors = 0;
  };
  PhaseResult phase(const Op& op, int parallel, const std::string& what, int lo = 0, int hi = -1);
  // Sequential, the two ops pod by pod, alternating which goes first.
  std::pair<PhaseResult, PhaseResult> interleaved(const Op& a, const Op& b, const std::string& wa,
                                                  const std::string& wb);
  void record(PhaseResult& r, const Proc& p, const std::string& what, int i);

  void latencyAndThroughput();
  void peakRss();
  void startup();
  // spawn() through the RSS helper when there is one: maxrssKb is then the
  // process's own peak, not the peak of a fork of this (large) driver.
  Proc spawnOwnRss(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                   const std::string& in, int netnsFd = -1) const;
  void ipamFill();
  void printAndWrite();

  Options o_;
  std::vector<Impl> impls_;
  std::vector<std::string> made_;  // namespaces to delete
  std::string ipamTmp_;
  std::string dataTmp_;
  int nodeFd_ = -1;
  int origFd_ = -1;
  bool dirty_ = false;
  // results: name -> metric -> Stats
  std::map<std::string, std::map<std::string, Stats>> lat_;  // seq latencies (ms)
  std::map<std::string, std::map<std::string, Stats>> rss_;  // KiB
  std::map<std::string, std::map<std::string, Stats>> cpu_;  // ms of CPU per op (direct exec)
  std::map<std::string, std::map<std::string, std::vector<std::pair<int, double>>>> thr_;  // ops, wall ms
  std::map<std::string, std::map<std::string, Stats>> start_;                              // VERSION exec
  json ipam_ = json::object();
  std::map<std::string, int> errors_;
  std::string firstError_;
  double totalSec_ = 0;
};

void Bench::setup() {
  if (!o_.dataRoot.empty()) {
    std::string t = o_.dataRoot + "/podnet-bench.XXXXXX";
    if (!::mkdtemp(t.data())) die("mkdtemp in " + o_.dataRoot);
    dataTmp_ = t;
  }
  fs::create_directories(o_.tmp + "/net.d");
  const std::string data = dataDir();
  const std::string range = R"([[{"subnet":"10.88.0.0/16"}]])";
  impls_ = {
      {"podnet", "podnet (podnet-ipam in-process)", "bench-podnet", o_.bin + "/podnet",
       R"({"type":"podnet","ipam":{"type":"podnet-ipam","dataDir":")" + data + R"(/data-podnet","ranges":)" +
           range + "}}"},
      {"reference", "ptp + host-local", "bench-ref", o_.ref + "/ptp",
       R"({"type":"ptp","ipam":{"type":"host-local","dataDir":")" + data + R"(/data-ref","ranges":)" + range +
           "}}"},
  };
  if (!o_.noopDir.empty()) {
    if (::access((o_.noopDir + "/podnet-bench-noop").c_str(), X_OK) != 0)
      die("missing " + o_.noopDir + "/podnet-bench-noop");
    impls_.push_back({"noop", "no-op plugin", "bench-noop", o_.noopDir + "/podnet-bench-noop",
                      R"({"type":"podnet-bench-noop"})"});
  }
  for (auto& im : impls_) {
    std::ofstream(o_.tmp + "/net.d/" + im.net + ".conflist")
        << R"({"cniVersion":"1.0.0","name":")" << im.net << R"(","plugins":[)" << im.pluginConf << "]}\n";
    // What libcni hands the plugin: the plugin's object plus name and cniVersion.
    im.pluginConf = R"({"cniVersion":"1.0.0","name":")" + im.net + "\"," + im.pluginConf.substr(1);
  }
  for (const char* f : {"/podnet", "/podnet-ipam", "/cnitool"})
    if (::access((o_.bin + f).c_str(), X_OK) != 0) die("missing " + o_.bin + f);
  for (const char* f : {"/ptp", "/host-local"})
    if (::access((o_.ref + f).c_str(), X_OK) != 0) die("missing " + o_.ref + f);

  const auto t0 = Clock::now();
  origFd_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  // A node for the kernel floor (the driver itself lives there), one for podnet
  // and one for the reference, so their ADDs and DELs can be interleaved pod by
  // pod on the same range. The floor reuses podnet's pods.
  auto makeNode = [&](const std::string& node) {
    made_.push_back(node);
    sh({"ip", "netns", "add", node});
    sh({"ip", "-n", node, "link", "set", "lo", "up"});
    sh({"ip", "netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1"});
    const int fd = ::open(("/run/netns/" + node).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("cannot open " + node);
    return fd;
  };
  const std::vector<std::pair<std::string, std::string>> nodes = {
      {"node-podnet", "p"}, {"node-ref", "q"}, {"node-noop", "p"}};
  for (std::size_t k = 0; k < impls_.size(); ++k) {
    impls_[k].node = ns(nodes[k].first);
    impls_[k].podPrefix = nodes[k].second;
    impls_[k].nodeFd = makeNode(impls_[k].node);
  }
  for (const char* prefix : {"p", "q"}) {
    for (int i = 0; i < o_.pods; ++i) {
      made_.push_back(ns(prefix + std::to_string(i)));
      sh({"ip", "netns", "add", made_.back()});
    }
  }
  nodeFd_ = makeNode(ns("node-floor"));
  for (auto& im : impls_) startServer(im);
  if (::setns(nodeFd_, CLONE_NEWNET) != 0) die("cannot enter the node namespace");
  std::fprintf(stderr, "setup: 4 nodes + %d pod namespaces in %.1f s\n", 2 * o_.pods, msSince(t0) / 1000);
}

void Bench::cleanup() {
  for (auto& im : impls_) {
    if (im.serverStdin >= 0) ::close(im.serverStdin);  // EOF: the server stops
    im.serverStdin = -1;
    if (im.serverPid > 0) {
      int st;
      ::waitpid(im.serverPid, &st, 0);
      im.serverPid = -1;
    }
  }
  if (origFd_ >= 0) {
    if (::setns(origFd_, CLONE_NEWNET) != 0) std::perror("setns back");
    ::close(origFd_);
    origFd_ = -1;
  }
  for (auto it = made_.rbegin(); it != made_.rend(); ++it) sh({"ip", "netns", "delete", *it}, false);
  made_.clear();
  for (const auto& d : {o_.tmp, ipamTmp_, dataTmp_}) {
    if (!d.empty() && d.find("podnet-bench") != std::string::npos) {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  }
}

// After a failed operation: no pod keeps an interface, no lease stays.
void Bench::sweep() {
  if (!dirty_) return;
  for (const char* prefix : {"p", "q"})
    for (int i = 0; i < o_.pods; ++i)
      sh({"ip", "-n", ns(prefix + std::to_string(i)), "link", "del", "eth0"}, false);
  for (const auto& d : {"/data-podnet", "/data-ref"}) {
    std::error_code ec;
    fs::remove_all(dataDir() + d, ec);
  }
  dirty_ = false;
}

Bench::Op Bench::opCnitool(const Impl& im, bool add, const std::string& tag) const {
  const std::string tool = o_.bin + "/cnitool";
  return [this, &im, add, tag, tool](int i) {
    return spawn({tool, add ? "add" : "del", im.net, podPath(im, i)}, cnitoolEnv(im, tag + std::to_string(i)),
                 "", 0, im.nodeFd);
  };
}

// Forks `cnitool serve` into the implementation's node and waits for "ready".
void Bench::startServer(Impl& im) {
  im.serverSocket = o_.tmp + "/serve-" + im.key + ".sock";
  int inPipe[2], outPipe[2];
  if (pipe2(inPipe, O_CLOEXEC) != 0 || pipe2(outPipe, O_CLOEXEC) != 0) die("pipe2 failed");
  const std::string tool = o_.bin + "/cnitool";
  std::vector<std::string> argv = {tool, "serve", im.serverSocket};
  const auto env = cnitoolEnv(im, "unused");
  std::vector<char*> av, ev;
  for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  for (const auto& e : env) ev.push_back(const_cast<char*>(e.c_str()));
  ev.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setns(im.nodeFd, CLONE_NEWNET) != 0) ::_exit(126);
    ::dup2(inPipe[0], 0);
    ::dup2(outPipe[1], 1);
    ::execve(tool.c_str(), av.data(), ev.data());
    ::_exit(127);
  }
  if (pid < 0) die("fork failed");
  ::close(inPipe[0]);
  ::close(outPipe[1]);
  im.serverPid = pid;
  im.serverStdin = inPipe[1];
  std::string out;
  char buf[256];
  for (ssize_t n; out.find('\n') == std::string::npos && (n = ::read(outPipe[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(outPipe[0]);
  if (out.rfind("ready", 0) != 0) die("cnitool serve for " + im.key + " did not start: " + out);
}

// One request to the long-lived client; the wall time is the request's round trip.
// CPU and RSS are the server's, not one plugin's: left out (direct exec measures them).
Bench::Op Bench::opServer(const Impl& im, bool add, const std::string& tag) const {
  return [this, &im, add, tag](int i) {
    Proc p;
    const std::string req = std::string(add ? "add " : "del ") + im.net + " " + podPath(im, i) + " " + tag +
                            std::to_string(i) + "\n";
    const auto t0 = Clock::now();
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", im.serverSocket.c_str());
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      if (fd >= 0) ::close(fd);
      p.out = "connect " + im.serverSocket + ": " + std::strerror(errno);
      return p;
    }
    if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) p.out = "short write";
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) p.out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    p.ms = msSince(t0);
    p.status = p.out.rfind("ok", 0) == 0 ? 0 : 1 << 8;
    return p;
  };
}

Bench::Op Bench::opDirect(const Impl& im, bool add, const std::string& tag) const {
  return [this, &im, add, tag](int i) {
    return spawn({im.pluginPath}, pluginEnv(add ? "ADD" : "DEL", tag + std::to_string(i), podPath(im, i)),
                 im.pluginConf, 0, im.nodeFd);
  };
}

// The ip floor: pods p<i>, host veths pnb<i>, 10.89/16; the netlink floor: pods q<i>, pnc<i>, 10.90/16.
std::string floorHost(int i, bool viaIp = true) { return (viaIp ? "pnb" : "pnc") + std::to_string(i); }
std::string floorGw(bool viaIp) { return viaIp ? "10.89.0.1" : "10.90.0.1"; }
std::string floorPodIp(int i, bool viaIp = true) {
  const int n = i + 2;
  return std::string(viaIp ? "10.89." : "10.90.") + std::to_string(n / 256) + "." + std::to_string(n % 256);
}

// The same work with iproute2: one `ip -batch` in the node, one in the pod.
Bench::Op Bench::opIpFloor(bool add, const std::string&) const {
  return [this, add](int i) {
    const std::string h = floorHost(i), ip = floorPodIp(i), gw = "10.89.0.1";
    const std::vector<std::string> env{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    if (!add) return spawn({"/usr/sbin/ip", "link", "del", h}, env, "");
    Proc a =
        spawn({"/usr/sbin/ip", "-batch", "-"}, env,
              "link add " + h +
                  " numtxqueues 1 numrxqueues 1 type veth peer name eth0 numtxqueues 1 numrxqueues 1 netns " +
                  podNs(i) + "\naddr add " + gw + "/32 dev " + h + "\nlink set " + h + " up\nroute add " +
                  ip + "/32 dev " + h + " scope link\n");
    if (!a.ok()) return a;
    Proc b = spawn({"/usr/sbin/ip", "-n", podNs(i), "-batch", "-"}, env,
                   "addr add " + ip + "/32 dev eth0\nlink set eth0 up\nroute add " + gw +
                       " dev eth0 scope link\nroute add default via " + gw + " dev eth0\n");
    b.ms += a.ms;
    b.maxrssKb = std::max(a.maxrssKb, b.maxrssKb);
    return b;
  };
}

// The same work as the fewest netlink messages one process can send: the veth
// created up with its peer directly in the pod, the node's address and route in
// the same batch, then the pod's address and routes in one batch on a socket
// opened in the pod. DEL: one RTM_DELLINK.
Bench::Op Bench::opNetlinkFloor(bool add) const {
  return [this, add](int i) {
    Proc p;
    const int hostIndex = 1000000 + i;
    const auto t0 = Clock::now();
    if (!add) {
      Nl nl;
      nl.begin(RTM_DELLINK, 0);
      ifinfomsg m{};
      m.ifi_index = hostIndex;
      nl.body(m);
      nl.end();
      const int err = nl.talk();
      p.ms = msSince(t0);
      p.status = err == 0 ? 0 : 1 << 8;
      if (err) p.out = std::string("RTM_DELLINK: ") + std::strerror(err);
      return p;
    }
    const std::string podFile = "/run/netns/" + ns("q" + std::to_string(i));
    const int podFd = ::open(podFile.c_str(), O_RDONLY | O_CLOEXEC);
    if (podFd < 0) die("open " + podFile);
    const uint32_t gw = v4(floorGw(false)), ip = v4(floorPodIp(i, false));
    int err = 0;
    uint32_t errAt = 0;
    {
      Nl host;
      host.begin(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
      ifinfomsg m{};
      m.ifi_index = hostIndex;
      host.body(m);
      host.attrStr(IFLA_IFNAME, floorHost(i, false));
      // One queue each way on both ends, as podnet asks (see VethSpec::queues).
      host.attrVal(IFLA_NUM_TX_QUEUES, uint32_t{1});
      host.attrVal(IFLA_NUM_RX_QUEUES, uint32_t{1});
      const auto li = host.nest(IFLA_LINKINFO);
      host.attrStr(IFLA_INFO_KIND, "veth");
      const auto data = host.nest(IFLA_INFO_DATA);
      const auto peer = host.nest(VETH_INFO_PEER);
      ifinfomsg pm{};
      pm.ifi_index = 2;
      host.body(pm);
      host.attrStr(IFLA_IFNAME, "eth0");
      host.attrVal(IFLA_NUM_TX_QUEUES, uint32_t{1});
      host.attrVal(IFLA_NUM_RX_QUEUES, uint32_t{1});
      host.attrVal(IFLA_NET_NS_FD, static_cast<uint32_t>(podFd));
      host.endNest(peer);
      host.endNest(data);
      host.endNest(li);
      host.end();
      // (A veth cannot be created up: it opens before its peer is attached, ENOTCONN.)
      setUp(host, hostIndex);
      addAddr(host, hostIndex, gw);
      addRoute(host, hostIndex, ip, std::nullopt);
      err = host.talk();
      errAt = host.errSeq;
    }
    if (err == 0) {
      if (::setns(podFd, CLONE_NEWNET) != 0) die("setns pod");
      Nl pod;
      if (::setns(nodeFd_, CLONE_NEWNET) != 0) die("setns node");
      setUp(pod, 2);
      addAddr(pod, 2, ip);
      addRoute(pod, 2, gw, std::nullopt);
      addRoute(pod, 2, std::nullopt, gw);
      err = pod.talk();
      errAt = 10 + pod.errSeq;
    }
    ::close(podFd);
    p.ms = msSince(t0);
    p.status = err == 0 ? 0 : 1 << 8;
    if (err) p.out = std::string("netlink: ") + std::strerror(err) + " at message " + std::to_string(errAt);
    return p;
  };
}

void Bench::record(PhaseResult& r, const Proc& p, const std::string& what, int i) {
  if (!p.ok()) {
    ++r.errors;
    if (firstError_.empty()) firstError_ = what + " pod " + std::to_string(i) + ": " + p.out;
    return;
  }
  r.lat.add(p.ms);
  r.cpu.add(p.cpuMs);
  if (p.maxrssKb > 0) r.rss.add(static_cast<double>(p.maxrssKb));
}

std::pair<Bench::PhaseResult, Bench::PhaseResult> Bench::interleaved(const Op& a, const Op& b,
                                                                     const std::string& wa,
                                                                     const std::string& wb) {
  PhaseResult ra, rb;
  for (int i = 0; i < o_.pods; ++i) {
    if (i % 2 == 0) {
      record(ra, a(i), wa, i);
      record(rb, b(i), wb, i);
    } else {
      record(rb, b(i), wb, i);
      record(ra, a(i), wa, i);
    }
  }
  for (auto* x : {&ra, &rb}) {
    if (x->errors) {
      errors_[x == &ra ? wa : wb] += x->errors;
      dirty_ = true;
      std::fprintf(stderr, "  %s: %d errors; first: %s\n", (x == &ra ? wa : wb).c_str(), x->errors,
                   firstError_.c_str());
    }
  }
  return {ra, rb};
}

Bench::PhaseResult Bench::phase(const Op& op, int parallel, const std::string& what, int lo, int hi) {
  PhaseResult r;
  std::mutex mu;
  if (hi < 0) hi = o_.pods;
  std::atomic<int> next{lo};
  auto worker = [&] {
    // Plugins are spawned into their node's namespace; in-process work runs in the floor node.
    for (int i; (i = next.fetch_add(1)) < hi;) {
      Proc p = op(i);
      std::lock_guard lk(mu);
      record(r, p, what, i);
    }
  };
  const auto t0 = Clock::now();
  if (parallel <= 1) {
    worker();
  } else {
    std::vector<std::thread> ts;
    for (int t = 0; t < parallel; ++t) ts.emplace_back(worker);
    for (auto& t : ts) t.join();
  }
  r.wallMs = msSince(t0);
  if (r.errors) {
    errors_[what] += r.errors;
    dirty_ = true;
    std::fprintf(stderr, "  %s: %d errors; first: %s\n", what.c_str(), r.errors, firstError_.c_str());
  }
  return r;
}

void Bench::latencyAndThroughput() {
  struct Mode {
    std::string key;  // libcni (a cnitool process per call), server (a long-lived libcni client), exec
    int parallel;
  };
  const std::vector<Mode> modes = {{"libcni", 1},           {"server", 1},           {"exec", 1},
                                   {"libcni", o_.parallel}, {"server", o_.parallel}, {"exec", o_.parallel}};
  // Parallel passes go in chunks of pods, alternating podnet and the reference
  // chunk by chunk, so that a burst of load from elsewhere hits both alike.
  const int chunk = std::max(o_.parallel * 4, o_.pods / 5);
  for (int round = 0; round < o_.rounds; ++round) {
    std::vector<const Impl*> order = {&impls_[0], &impls_[1]};
    if (round % 2) std::swap(order[0], order[1]);
    for (const auto& m : modes) {
      const std::string tag =
          "r" + std::to_string(round) + m.key.substr(0, 1) + std::to_string(m.parallel) + "-";
      const std::string mode = m.key + (m.parallel > 1 ? "/par" : "/seq");
      for (bool add : {true, false}) {
        const std::string verb = add ? "ADD" : "DEL";
        std::map<const Impl*, PhaseResult> res;
        if (m.parallel == 1) {
          auto op = [&](const Impl* im) { return opVia(m.key, *im, add, tag); };
          auto [a, b] = interleaved(op(order[0]), op(order[1]), order[0]->key + "/" + mode + "/" + verb,
                                    order[1]->key + "/" + mode + "/" + verb);
          res[order[0]] = a;
          res[order[1]] = b;
        } else {
          for (int lo = 0, c = 0; lo < o_.pods; lo += chunk, ++c) {
            for (int k = 0; k < 2; ++k) {
              const Impl* im = order[(k + c) % 2];
              auto r = phase(opVia(m.key, *im, add, tag), m.parallel, im->key + "/" + mode + "/" + verb, lo,
                             std::min(lo + chunk, o_.pods));
              auto& acc = res[im];
              for (double x : r.lat.v) acc.lat.add(x);
              acc.wallMs += r.wallMs;
              acc.errors += r.errors;
            }
          }
        }
        for (const Impl* im : order) {
          auto& r = res[im];
          if (m.parallel == 1) {
            for (double x : r.lat.v) lat_[im->key][m.key + " " + verb].add(x);
            if (m.key != "server")
              for (double x : r.cpu.v) cpu_[im->key][m.key + " " + verb].add(x);

          } else {
            thr_[im->key][m.key + " " + verb].push_back({static_cast<int>(r.lat.n()), r.wallMs});
          }
          if (m.parallel == 1)
            std::fprintf(stderr, "  round %d %-10s %-11s %s: %d ops, p50 %.2f ms\n", round + 1,
                         im->key.c_str(), mode.c_str(), verb.c_str(), static_cast<int>(r.lat.n()),
                         r.lat.pct(50));
          else
            std::fprintf(stderr, "  round %d %-10s %-11s %s: %d ops, %.0f ms wall, %.0f pods/s\n", round + 1,
                         im->key.c_str(), mode.c_str(), verb.c_str(), static_cast<int>(r.lat.n()), r.wallMs,
                         1000.0 * static_cast<double>(r.lat.n()) / r.wallMs);
        }
      }
      sweep();
    }
    // The client's own cost: the same client and calls with a plugin that does nothing.
    if (impls_.size() > 2) {
      const Impl& noop = impls_[2];
      for (const std::string via : {"libcni", "server", "exec"}) {
        for (bool add : {true, false}) {
          const std::string tag = "r" + std::to_string(round) + "n-";
          const std::string verb = add ? "ADD" : "DEL";
          auto r = phase(opVia(via, noop, add, tag), 1, "noop/" + via + "/seq/" + verb);
          for (double x : r.lat.v) lat_["noop"][via + " " + verb].add(x);
          if (via != "server")
            for (double x : r.cpu.v) cpu_["noop"][via + " " + verb].add(x);
        }
        // Its parallel ADD throughput: the most any plugin can reach through this path.
        const std::string tag = "r" + std::to_string(round) + "m-";
        for (bool add : {true, false}) {
          auto r =
              phase(opVia(via, noop, add, tag), o_.parallel, "noop/" + via + "/par/" + (add ? "ADD" : "DEL"));
          if (add) thr_["noop"][via + " ADD"].push_back({static_cast<int>(r.lat.n()), r.wallMs});
        }
      }
    }
    // The kernel's floor: sequential latency (ip and netlink interleaved pod by
    // pod), then parallel throughput of the ip floor.
    for (bool add : {true, false}) {
      const std::string verb = add ? "ADD" : "DEL";
      auto [a, b] = interleaved(opIpFloor(add, ""), opNetlinkFloor(add), "floor/ip -batch/seq/" + verb,
                                "floor/netlink/seq/" + verb);
      for (double x : a.lat.v) lat_["floor"]["ip -batch " + verb].add(x);
      for (double x : b.lat.v) lat_["floor"]["netlink " + verb].add(x);
      std::fprintf(stderr, "  round %d floor      seq         %s: ip p50 %.2f ms, netlink p50 %.2f ms\n",
                   round + 1, verb.c_str(), a.lat.pct(50), b.lat.pct(50));
    }
    for (bool add : {true, false}) {
      const std::string verb = add ? "ADD" : "DEL";
      auto r = phase(opIpFloor(add, ""), o_.parallel, "floor/ip -batch/par/" + verb);
      thr_["floor"]["ip -batch " + verb].push_back({static_cast<int>(r.lat.n()), r.wallMs});
      std::fprintf(stderr, "  round %d floor      ip/par      %s: %d ops, %.0f ms wall\n", round + 1,
                   verb.c_str(), static_cast<int>(r.lat.n()), r.wallMs);
    }
    if (dirty_)
      for (int i = 0; i < o_.pods; ++i)
        for (bool viaIp : {true, false}) sh({"ip", "link", "del", floorHost(i, viaIp)}, false);
    sweep();
  }
}

Proc Bench::spawnOwnRss(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                        const std::string& in, int netnsFd) const {
  if (o_.rssHelper.empty()) return spawn(argv, env, in, 0, netnsFd);
  std::vector<std::string> wrapped = {o_.rssHelper};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  Proc p = spawn(wrapped, env, in, 0, netnsFd);
  const std::string tag = "podnet-bench-rss ";
  if (const auto at = p.out.rfind(tag); at != std::string::npos)
    p.maxrssKb = std::strtol(p.out.c_str() + at + tag.size(), nullptr, 10);
  return p;
}

// Peak RSS of one plugin process: ADD and DEL of the first pods again, each
// exec'd through the RSS helper (its extra fork would bias the latencies, so
// this is a phase of its own).
void Bench::peakRss() {
  const int n = std::min(o_.pods, 20);
  for (const Impl* im : {&impls_[0], &impls_[1]}) {
    for (int i = 0; i < n; ++i) {
      for (bool add : {true, false}) {
        const std::string verb = add ? "ADD" : "DEL";
        Proc p = spawnOwnRss({im->pluginPath}, pluginEnv(verb, "rss" + std::to_string(i), podPath(*im, i)),
                             im->pluginConf, im->nodeFd);
        PhaseResult r;
        record(r, p, im->key + "/rss/" + verb, i);
        if (r.errors) {
          errors_[im->key + "/rss/" + verb] += r.errors;
          dirty_ = true;
        }
        if (p.maxrssKb > 0) rss_[im->key][verb].add(static_cast<double>(p.maxrssKb));
      }
    }
  }
  sweep();
}

void Bench::startup() {
  const std::vector<std::pair<std::string, std::string>> bins = {{"podnet", o_.bin + "/podnet"},
                                                                 {"podnet-ipam", o_.bin + "/podnet-ipam"},
                                                                 {"ptp", o_.ref + "/ptp"},
                                                                 {"host-local", o_.ref + "/host-local"},
                                                                 {"/bin/true", "/bin/true"}};
  for (int r = 0; r < o_.startupReps; ++r) {
    for (const auto& [name, path] : bins) {
      // Timed directly; the RSS through the helper, whose extra fork would add to the time.
      const Proc p = spawn({path}, {"CNI_COMMAND=VERSION"}, R"({"cniVersion":"1.0.0"})");
      const Proc own = spawnOwnRss({path}, {"CNI_COMMAND=VERSION"}, R"({"cniVersion":"1.0.0"})");
      if (!p.ok() || !own.ok()) die("VERSION of " + name + " failed: " + p.out + own.out);
      start_[name]["ms"].add(p.ms);
      start_[name]["rss"].add(static_cast<double>(own.maxrssKb));
    }
  }
}

// IPAM alone, as a range (a /16) fills: one ADD and its DEL, repeated, each
// binary exec'd directly, on a dataDir pre-filled in host-local's format (one
// file per address, "<containerID>\r\n<ifname>", and last_reserved_ip.0). The
// leases are spread at random over the range (the state a busy node's churn
// leaves), identically for both. The first ADD+DEL at each level is "cold"
// (podnet-ipam may build its index from the files) and not in the p50.
void Bench::ipamFill() {
  struct IpamImpl {
    std::string key, path, dir;
  };
  std::string tmpl = o_.ipamRoot + "/podnet-bench.XXXXXX";
  if (!::mkdtemp(tmpl.data())) die("mkdtemp in " + o_.ipamRoot);
  ipamTmp_ = tmpl;
  const std::vector<IpamImpl> ims = {{"podnet-ipam", o_.bin + "/podnet-ipam", ipamTmp_ + "/fill-podnet"},
                                     {"host-local", o_.ref + "/host-local", ipamTmp_ + "/fill-ref"}};
  const std::string net = "fill";
  const uint32_t size = 1u << (32 - o_.ipamPrefix);
  const std::string subnet = "10.60.0.0/" + std::to_string(o_.ipamPrefix);
  // Usable: .1 is the gateway, the last address the broadcast.
  std::vector<uint32_t> usable;
  for (uint32_t h = 2; h + 1 < size; ++h) usable.push_back(h);
  std::mt19937_64 rng(6);
  std::shuffle(usable.begin(), usable.end(), rng);
  auto ipOf = [](uint32_t h) { return "10.60." + std::to_string(h >> 8) + "." + std::to_string(h & 255); };
  const std::vector<std::pair<std::string, std::size_t>> levels = {
      {"empty", 0},
      {"half", usable.size() / 2},
      {"nearly full", static_cast<std::size_t>(static_cast<double>(usable.size()) * o_.ipamNearlyFull)}};
  for (const auto& im : ims) fs::create_directories(im.dir + "/" + net);
  ipam_["subnet"] = subnet;
  ipam_["dataDir_root"] = o_.ipamRoot;
  ipam_["usable"] = usable.size();
  std::size_t filled = 0;
  std::map<std::string, bool> gaveUp;
  for (const auto& [level, target] : levels) {
    const auto tf = Clock::now();
    for (const auto& im : ims) {
      const std::string d = im.dir + "/" + net + "/";
      for (std::size_t k = filled; k < target; ++k) {
        const std::string name = d + ipOf(usable[k]);
        const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) die("prefill " + name + ": " + std::strerror(errno));
        const std::string content = "prefill-" + std::to_string(k) + "\r\neth0";
        if (::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size()))
          die("prefill write");
        ::close(fd);
      }
      if (target > 0) std::ofstream(d + "last_reserved_ip.0", std::ios::trunc) << ipOf(usable[target - 1]);
    }
    filled = target;
    const double fillMs = msSince(tf);
    json lv = {{"leases", filled}, {"free", usable.size() - filled}, {"prefill_ms", fillMs}};
    std::fprintf(stderr, "  ipam %-11s %zu leases written in %.1f s\n", level.c_str(), filled, fillMs / 1000);
    // Both binaries rep by rep, alternating which goes first, so load from
    // elsewhere hits both alike; each stops at its own time budget (after 3 reps).
    struct Run {
      Stats add, del, both, rss;
      double cold = NAN;
      std::string note;
      double ms = 0;
      bool done = false;
    };
    std::map<std::string, Run> runs;
    for (int r = 0; r <= o_.ipamReps; ++r) {
      for (int k = 0; k < 2; ++k) {
        const auto& im = ims[(k + r) % 2];
        Run& run = runs[im.key];
        if (gaveUp[im.key]) {
          if (run.note.empty()) run.note = "skipped: timed out at a lower fill";
          run.done = true;
        }
        if (run.done) continue;
        const std::string conf = R"({"cniVersion":"1.0.0","name":")" + net +
                                 R"(","type":"ptp","ipam":{"type":")" +
                                 fs::path(im.path).filename().string() + R"(","dataDir":")" + im.dir +
                                 R"(","ranges":[[{"subnet":")" + subnet + R"("}]]}})";
        const std::string id = "bench-" + level.substr(0, 4) + "-" + std::to_string(r);
        const std::string nsPath = "/run/netns/" + ns("node-floor");
        const double limit = r == 0 ? o_.ipamColdTimeoutMs : o_.ipamOpTimeoutMs;
        Proc a = spawn({im.path}, pluginEnv("ADD", id, nsPath), conf, limit);
        Proc d;
        if (a.ok()) d = spawn({im.path}, pluginEnv("DEL", id, nsPath), conf, limit);
        run.ms += a.ms + d.ms;
        if (!a.ok() || !d.ok()) {
          const Proc& bad = a.ok() ? d : a;
          run.note = std::string(a.ok() ? "DEL" : "ADD") + (r == 0 ? " (cold)" : "") +
                     (bad.timedOut ? " killed after " + fmtMs(limit / 1000) + " s" : " failed: " + bad.out);
          std::fprintf(stderr, "  ipam %-11s %-11s %s\n", level.c_str(), im.key.c_str(), run.note.c_str());
          gaveUp[im.key] = bad.timedOut;  // a timeout at one fill level: the fuller ones would be no better
          errors_["ipam " + im.key + " " + level] += 1;
          if (!bad.timedOut && firstError_.empty()) firstError_ = run.note;
          run.done = true;
          continue;
        }
        if (r == 0) {
          run.cold = a.ms + d.ms;
          continue;
        }
        run.add.add(a.ms);
        run.del.add(d.ms);
        run.both.add(a.ms + d.ms);
        run.rss.add(static_cast<double>(a.maxrssKb));
        if (r >= 3 && run.ms > o_.ipamLevelBudgetMs) run.done = true;
      }
    }
    for (const auto& im : ims) {
      const Run& run = runs[im.key];
      lv[im.key] = {{"add_ms", run.add.toJson()},
                    {"del_ms", run.del.toJson()},
                    {"add_del_ms", run.both.toJson()},
                    {"cold_add_del_ms", run.cold},
                    {"maxrss_kb", run.rss.max()},
                    {"seconds", run.ms / 1000},
                    {"note", run.note}};
      std::fprintf(
          stderr,
          "  ipam %-11s %-11s ADD p50 %.2f ms, DEL p50 %.2f ms (n %zu, cold ADD+DEL %.1f ms), %.1f s\n",
          level.c_str(), im.key.c_str(), run.add.pct(50), run.del.pct(50), run.add.n(), run.cold,
          run.ms / 1000);
    }
    ipam_[level] = lv;
  }
  std::error_code ec;
  fs::remove_all(ipamTmp_, ec);
  ipamTmp_.clear();
}

std::string fmtMs(double x) {
  char b[32];
  if (std::isnan(x)) return "-";
  std::snprintf(b, sizeof b, x < 10 ? "%.2f" : (x < 100 ? "%.1f" : "%.0f"), x);
  return b;
}
std::string fmtRatio(double x) {
  char b[32];
  if (std::isnan(x) || std::isinf(x)) return "-";
  std::snprintf(b, sizeof b, "%.2fx", x);
  return b;
}

double throughput(const std::vector<std::pair<int, double>>& runs) {
  double ops = 0, ms = 0;
  for (auto [n, w] : runs) {
    ops += n;
    ms += w;
  }
  return ms > 0 ? ops / (ms / 1000) : NAN;
}

void Bench::run() {
  const auto t0 = Clock::now();
  setup();
  std::fprintf(stderr, "startup (VERSION exec) x%d\n", o_.startupReps);
  startup();
  std::fprintf(stderr, "latency and throughput: %d pods, %d rounds, %d parallel\n", o_.pods, o_.rounds,
               o_.parallel);
  latencyAndThroughput();
  std::fprintf(stderr, "peak RSS: ADD and DEL of %d pods each, through the RSS helper\n",
               std::min(o_.pods, 20));
  peakRss();
  if (!o_.skipIpam) {
    std::fprintf(stderr, "ipam as a /16 fills: %d reps\n", o_.ipamReps);
    ipamFill();
  }
  totalSec_ = msSince(t0) / 1000;
  printAndWrite();
}

void Bench::printAndWrite() {
  json j;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  j["config"] = {{"pods", o_.pods},
                 {"parallel", o_.parallel},
                 {"rounds", o_.rounds},
                 {"ipam_reps", o_.ipamReps},
                 {"startup_reps", o_.startupReps},
                 {"quick", o_.quick},
                 {"cpus", std::thread::hardware_concurrency()},
                 {"range", "10.88.0.0/16"},
                 {"cniVersion", "1.0.0"},
                 {"seconds", totalSec_},
                 {"pod_dataDirs", o_.dataRoot.empty() ? o_.tmp : o_.dataRoot}};
  j["impls"] = {{"podnet", impls_[0].pluginConf}, {"reference", impls_[1].pluginConf}};

  std::ostringstream t;
  auto row = [&](const std::string& what, double pn, double ref, const std::string& unit,
                 bool higherBetter = false, std::optional<double> target = std::nullopt) {
    const double ratio = pn / ref;
    std::string verdict;
    if (target) verdict = (higherBetter ? ratio >= *target : ratio <= *target) ? "yes" : "**NO**";
    t << "| " << what << " | " << fmtMs(pn) << " | " << fmtMs(ref) << " | " << unit << " | "
      << fmtRatio(ratio) << " | "
      << (target ? (higherBetter ? ">= " : "<= ") + fmtRatio(*target) + " " + verdict : "") << " |\n";
    return ratio;
  };
  json ratios;
  t << "### Pod setup and teardown (" << o_.pods << " pods, " << o_.rounds << " rounds, alternating)\n\n"
    << "The pods' dataDirs and libcni's result cache: " << (o_.dataRoot.empty() ? o_.tmp : o_.dataRoot)
    << "\n\n";
  t << "| measure | podnet | ptp+host-local | unit | podnet/ref | target |\n|---|---|---|---|---|---|\n";
  auto& P = lat_["podnet"];
  auto& R = lat_["reference"];
  // The targets are judged through libcni: per cnitool process, and through
  // the long-lived client that is how containerd and CRI-O call plugins.
  auto viaName = [](const std::string& via) -> std::string {
    if (via == "exec") return "direct exec";
    if (via == "server") return "a long-lived libcni client";
    return "libcni (a cnitool process per call)";
  };
  for (const std::string via : {"libcni", "server", "exec"}) {
    for (const std::string verb : {"ADD", "DEL"}) {
      const auto k = via + " " + verb;
      const bool tgtAdd = via != "exec" && verb == "ADD";
      const bool tgtDel = via != "exec" && verb == "DEL";
      std::optional<double> tg;
      if (tgtAdd) tg = 0.25;
      if (tgtDel) tg = 1.0;
      ratios[k + " p50"] =
          row(verb + " p50, sequential, via " + viaName(via), P[k].pct(50), R[k].pct(50), "ms", false, tg);
      ratios[k + " p99"] =
          row(verb + " p99, sequential, via " + viaName(via), P[k].pct(99), R[k].pct(99), "ms");
    }
  }
  for (const std::string via : {"libcni", "server", "exec"}) {
    for (const std::string verb : {"ADD", "DEL"}) {
      const auto k = via + " " + verb;
      const bool tgt = via != "exec" && verb == "ADD";
      ratios[k + " throughput"] =
          row(verb + " throughput, " + std::to_string(o_.parallel) + " parallel, via " + viaName(via),
              throughput(thr_["podnet"][k]), throughput(thr_["reference"][k]), "pods/s", true,
              tgt ? std::optional(3.0) : std::nullopt);
    }
  }
  if (lat_.count("noop")) {
    auto& N = lat_["noop"];
    for (const std::string via : {"libcni", "server"}) {
      for (const std::string verb : {"ADD", "DEL"}) {
        const double c = N[via + " " + verb].pct(50);
        ratios[via + " " + verb + " p50 minus client"] =
            row(verb + " p50 via " + viaName(via) + " minus the client's own cost (" + fmtMs(c) +
                    " ms, no-op plugin)",
                P[via + " " + verb].pct(50) - c, R[via + " " + verb].pct(50) - c, "ms");
      }
    }
  }
  for (const std::string via : {"libcni", "exec"}) {
    for (const std::string verb : {"ADD", "DEL"}) {
      const auto k = via + " " + verb;
      ratios[k + " cpu"] = row("CPU time (user+sys, with children) of one " + verb + ", p50, via " +
                                   (via == "exec" ? "direct exec" : "libcni (client + plugin)"),
                               cpu_["podnet"][k].pct(50), cpu_["reference"][k].pct(50), "ms");
    }
  }
  for (const std::string verb : {"ADD", "DEL"}) {
    ratios[verb + " peak rss"] =
        row("peak RSS of one plugin process, " + verb +
                (o_.rssHelper.empty() ? "" : " (its own: forked from a small static parent)"),
            rss_["podnet"][verb].max(), rss_["reference"][verb].max(), "KiB", false,
            verb == "ADD" ? std::optional(1.0 / 3) : std::nullopt);
  }

  auto& F = lat_["floor"];
  t << "\n### The kernel's floor (same veth + addresses + routes, no IPAM)\n\n";
  t << "| measure | p50 ms | p99 ms | " << o_.parallel
    << "-parallel pods/s | podnet p50 / floor p50 |\n|---|---|---|---|---|\n";
  for (const std::string key : {"ip -batch", "netlink"}) {
    for (const std::string verb : {"ADD", "DEL"}) {
      const auto& s = F[key + " " + verb];
      const double pn = P["exec " + verb].pct(50);
      const double rr = pn / s.pct(50);
      ratios["floor " + key + " " + verb] = rr;
      std::string desc = key == "ip -batch"
                             ? (verb == "ADD" ? "`ip -batch` in node + `ip -n pod -batch` (2 execs)"
                                              : "`ip link del` (1 exec)")
                             : (verb == "ADD" ? "raw netlink in-process, 2 batched round trips"
                                              : "raw netlink RTM_DELLINK in-process");
      std::string extra;
      if (key == "ip -batch" && verb == "DEL")
        extra = rr <= 1.2 ? " (target <= 1.20x: yes)" : " (target <= 1.20x: **NO**)";
      t << "| " << verb << ": " << desc << " | " << fmtMs(s.pct(50)) << " | " << fmtMs(s.pct(99)) << " | "
        << (thr_["floor"].count(key + " " + verb) ? fmtMs(throughput(thr_["floor"][key + " " + verb])) : "-")
        << " | " << fmtRatio(rr) << extra << " |\n";
    }
  }

  if (lat_.count("noop")) {
    auto& N = lat_["noop"];
    auto& C = cpu_["noop"];
    const std::string par = std::to_string(o_.parallel) + "-parallel";
    t << "\n### The client's own cost (a no-op plugin, static C)\n\n| path | ADD p50 ms | ADD p99 ms | ADD "
         "CPU p50 ms | DEL p50 ms | DEL p99 ms | DEL CPU p50 ms | ADD "
      << par << " pods/s | no-op/ref: ADD p50 (target <= 0.25x) | no-op/ref: ADD " << par
      << " (target >= 3x) |\n|---|---|---|---|---|---|---|---|---|---|\n";
    for (const std::string via : {"libcni", "server", "exec"}) {
      const double thr = throughput(thr_["noop"][via + " ADD"]);
      const double latRatio = N[via + " ADD"].pct(50) / R[via + " ADD"].pct(50);
      const double thrRatio = thr / throughput(thr_["reference"][via + " ADD"]);
      ratios["noop " + via + " ADD p50"] = latRatio;
      ratios["noop " + via + " ADD throughput"] = thrRatio;
      t << "| "
        << (via == "libcni"   ? "cnitool (libcni) + no-op plugin"
            : via == "server" ? "long-lived libcni client + no-op plugin"
                              : "direct exec of the no-op plugin")
        << " | " << fmtMs(N[via + " ADD"].pct(50)) << " | " << fmtMs(N[via + " ADD"].pct(99)) << " | "
        << fmtMs(C[via + " ADD"].pct(50)) << " | " << fmtMs(N[via + " DEL"].pct(50)) << " | "
        << fmtMs(N[via + " DEL"].pct(99)) << " | " << fmtMs(C[via + " DEL"].pct(50)) << " | " << fmtMs(thr)
        << " | " << fmtRatio(latRatio) << (latRatio <= 0.25 ? "" : " (missed by doing nothing)") << " | "
        << fmtRatio(thrRatio) << (thrRatio >= 3 ? "" : " (missed by doing nothing)") << " |\n";
    }
    t << "\nThe no-op plugin's ratios are the best any plugin can reach through that path on this "
         "machine (its phases run after the two plugins', in the same round).\n";
  }
  t << "\n### Binary startup (VERSION exec, x" << o_.startupReps
    << ")\n\n| binary | p50 ms | p99 ms | max RSS KiB |\n|---|---|---|---|\n";
  for (const std::string b : {"podnet", "podnet-ipam", "ptp", "host-local", "/bin/true"})
    t << "| " << b << " | " << fmtMs(start_[b]["ms"].pct(50)) << " | " << fmtMs(start_[b]["ms"].pct(99))
      << " | " << fmtMs(start_[b]["rss"].max()) << " |\n";

  if (!o_.skipIpam && !ipam_.empty()) {
    auto num = [](const json& v) { return v.is_number() ? v.get<double>() : NAN; };
    t << "\n### IPAM alone as a " << ipam_["subnet"].get<std::string>() << " fills ("
      << ipam_["usable"].get<std::size_t>()
      << " usable addresses; one ADD + its DEL, direct exec, p50 ms; cold = first ADD+DEL at that fill;"
      << " dataDirs in " << ipam_["dataDir_root"].get<std::string>() << ")\n\n";
    t << "| fill | leases | podnet-ipam ADD | DEL | cold | host-local ADD | DEL | cold | podnet/ref "
         "(ADD+DEL) |\n"
         "|---|---|---|---|---|---|---|---|---|\n";
    std::string notes;
    for (const std::string level : {"empty", "half", "nearly full"}) {
      const auto& l = ipam_[level];
      const auto& pi = l["podnet-ipam"];
      const auto& hl = l["host-local"];
      const double pa = num(pi["add_del_ms"]["p50"]), ra = num(hl["add_del_ms"]["p50"]);
      t << "| " << level << " | " << l["leases"].get<std::size_t>() << " | "
        << fmtMs(num(pi["add_ms"]["p50"])) << " | " << fmtMs(num(pi["del_ms"]["p50"])) << " | "
        << fmtMs(num(pi["cold_add_del_ms"])) << " | " << fmtMs(num(hl["add_ms"]["p50"])) << " | "
        << fmtMs(num(hl["del_ms"]["p50"])) << " | " << fmtMs(num(hl["cold_add_del_ms"])) << " | "
        << fmtRatio(pa / ra) << " |\n";
      for (const std::string k : {"podnet-ipam", "host-local"})
        if (!l[k]["note"].get<std::string>().empty())
          notes += "- " + k + " at " + level + ": " + l[k]["note"].get<std::string>() + "\n";
    }
    auto growth = [&](const std::string& k) {
      return num(ipam_["nearly full"][k]["add_del_ms"]["p50"]) / num(ipam_["empty"][k]["add_del_ms"]["p50"]);
    };
    const double gp = growth("podnet-ipam"), gr = growth("host-local");
    ratios["ipam growth podnet-ipam"] = gp;
    ratios["ipam growth host-local"] = gr;
    t << "| nearly full / empty (warm p50) | | " << fmtRatio(gp)
      << " (target <= 2.00x: " << (gp <= 2 ? "yes" : "**NO**") << ") | | | " << fmtRatio(gr) << " | | | |\n";
    if (!notes.empty()) t << "\n" << notes;
  }
  if (!errors_.empty()) {
    t << "\nErrors: ";
    for (const auto& [k, n] : errors_) t << k << "=" << n << " ";
    t << "\nFirst: " << firstError_ << "\n";
  }
  t << "\nTotal run time " << fmtMs(totalSec_) << " s.\n";
  std::cout << t.str() << std::flush;

  // JSON: everything measured.
  json lat, rss, thr, st, cpu;
  for (auto& [k, m] : cpu_)
    for (auto& [mk, s] : m) cpu[k][mk + " cpu ms"] = s.toJson();
  j["cpu_per_op"] = cpu;
  for (auto& [k, m] : lat_)
    for (auto& [mk, s] : m) lat[k][mk + " ms"] = s.toJson();
  for (auto& [k, m] : rss_)
    for (auto& [mk, s] : m) rss[k][mk + " KiB"] = s.toJson();
  for (auto& [k, m] : thr_)
    for (auto& [mk, runs] : m) thr[k][mk + " pods/s"] = throughput(runs);
  for (auto& [k, m] : start_)
    for (auto& [mk, s] : m) st[k][mk] = s.toJson();
  j["sequential_latency"] = lat;
  j["parallel_throughput"] = thr;
  j["peak_rss"] = rss;
  j["startup"] = st;
  j["ipam_fill"] = ipam_;
  j["ratios_podnet_over_reference"] = ratios;
  j["errors"] = errors_;
  j["table_markdown"] = t.str();
  if (!o_.jsonPath.empty()) {
    std::ofstream f(o_.jsonPath);
    f << j.dump(2) << "\n";
    if (!f) die("cannot write " + o_.jsonPath);
    std::fprintf(stderr, "wrote %s\n", o_.jsonPath.c_str());
  }
}

Bench* gBench = nullptr;

void usage() {
  std::cerr << "usage: podnet-bench --bin DIR [--ref DIR] [--json FILE] [--quick] [--pods N] [--parallel N]\n"
               "                    [--rounds N] [--ipam-reps N] [--ipam-prefix 16..24] [--startup-reps N]\n"
               "                    [--no-ipam] [--ipam-dir DIR] [--data-dir DIR] [--prefix NAME] "
               "[--noop-dir DIR] [--rss-helper FILE]\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  bool prefixSet = false, podsSet = false, roundsSet = false, ipamSet = false, startSet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--bin")
      o.bin = val();
    else if (a == "--ref")
      o.ref = val();
    else if (a == "--json")
      o.jsonPath = val();
    else if (a == "--prefix")
      o.prefix = val();
    else if (a == "--quick")
      o.quick = true;
    else if (a == "--pods")
      o.pods = std::stoi(val()), podsSet = true;
    else if (a == "--parallel")
      o.parallel = std::stoi(val());
    else if (a == "--rounds")
      o.rounds = std::stoi(val()), roundsSet = true;
    else if (a == "--ipam-reps")
      o.ipamReps = std::stoi(val()), ipamSet = true;
    else if (a == "--startup-reps")
      o.startupReps = std::stoi(val()), startSet = true;
    else if (a == "--no-ipam")
      o.skipIpam = true;
    else if (a == "--noop-dir")
      o.noopDir = val();
    else if (a == "--rss-helper")
      o.rssHelper = val();
    else if (a == "--ipam-dir")
      o.ipamRoot = val();
    else if (a == "--data-dir")
      o.dataRoot = val();
    else if (a == "--ipam-prefix")
      o.ipamPrefix = std::stoi(val()), prefixSet = true;
    else
      usage();
  }
  if (o.bin.empty()) usage();
  if (::geteuid() != 0) {
    std::cerr << "podnet-bench: needs root (network namespaces)\n";
    return 77;
  }
  if (o.quick) {
    if (!podsSet) o.pods = 40;
    if (!roundsSet) o.rounds = 1;
    if (!ipamSet) o.ipamReps = 8;
    if (!startSet) o.startupReps = 20;
    if (!prefixSet) o.ipamPrefix = 20;  // 4094 addresses: the trend, not the /16 figure
    o.ipamColdTimeoutMs = 15000;
    o.ipamOpTimeoutMs = 5000;
    o.ipamLevelBudgetMs = 3000;
  }
  if (o.ipamPrefix < 16 || o.ipamPrefix > 24) usage();
  if (o.pods < 1 || o.pods > 60000 || o.parallel < 1 || o.rounds < 1) usage();
  o.bin = fs::absolute(o.bin).string();
  if (o.prefix.empty()) o.prefix = "pnbench" + std::to_string(::getpid());
  char tmpl[] = "/tmp/podnet-bench.XXXXXX";
  if (!::mkdtemp(tmpl)) die("mkdtemp");
  o.tmp = tmpl;
  ::signal(SIGPIPE, SIG_IGN);
  // Ctrl-C / kill: delete what we made, then go.
  for (int s : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction sa {};
    sa.sa_handler = [](int) {
      if (gBench) gBench->cleanup();
      _exit(130);
    };
    ::sigaction(s, &sa, nullptr);
  }
  Bench b(o);
  gBench = &b;
  gCleanup = [] {
    if (gBench) gBench->cleanup();
  };
  b.run();
  gCleanup = nullptr;
  gBench = nullptr;
  return 0;
}
