#pragma once
// Network sysctls (/proc/sys/net/...). The kernel resolves these files in the
// network namespace of the thread that opens them, so a caller that means the
// pod's namespace calls them under a netns::Guard (or inside netns::run).

#include <string>
#include <string_view>

#include "podnet/error/result.hpp"

namespace podnet::netns {

// `key` is either dotted ("net.ipv4.ip_forward") or a path below /proc/sys
// ("net/ipv6/conf/eth0.100/disable_ipv6", for names that contain dots).
// Only keys below "net" are accepted: every other sysctl is machine-wide.
// A key that is empty, absolute, or contains ".." is an Error (code::kInvalidConfig).
Status writeSysctl(std::string_view key, std::string_view value);

// The value with its trailing newline removed.
Result<std::string> readSysctl(std::string_view key);

}  // namespace podnet::netns
