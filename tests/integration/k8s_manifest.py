#!/usr/bin/env python3
"""Checks conf/podnet.yaml (the DaemonSet install) against the rest of the repository.

  k8s_manifest.py check --manifest M --containerfile C --src DIR --bin DIR --podnetd-help FILE
      exit 0 when every check holds, else 1 with one "FAIL: ..." line per broken check.
  k8s_manifest.py negatives --manifest M --containerfile C --out DIR (and check's other options)
      for each defect of MUTATIONS: writes a copy of both files with that one defect
      into DIR/NAME/, checks the copy, and prints "NAME<TAB>failure | failure ...";
      k8s_manifest.sh expects each to fail with its check's message. One process
      for all of them: a Python start per case would cost seconds on a busy machine.
  k8s_manifest.py init-script --manifest M
      prints the init container's shell script, for k8s_manifest.sh to run.
"""

import argparse
import copy
import os
import re
import sys

import yaml

IMAGE_DIR_CNI = "/usr/lib/podnet/cni"  # where the image holds podnet and podnet-ipam
CNI_BINARIES = ["podnet", "podnet-ipam"]
ALLOWED_CAPS = {"NET_ADMIN", "NET_RAW"}
# The Debian package that provides each find_package() / pkg_check_modules() of
# the CMake files: the image build (not run in tests) needs every one of them.
CMAKE_DEPENDENCY_PACKAGES = {
    "PkgConfig": ["pkg-config"],
    "LIBNL": ["libnl-3-dev", "libnl-route-3-dev"],
    "LIBNFTABLES": ["libnftables-dev"],
    "nlohmann_json": ["nlohmann-json3-dev"],
    "CLI11": ["libcli11-dev"],
    "fmt": ["libfmt-dev"],
    "doctest": ["doctest-dev"],
    "Boost": ["libboost-dev"],
    "Threads": [],
    "OpenSSL": ["libssl-dev"],
    "yaml-cpp": ["libyaml-cpp-dev"],
}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def cxx_string(src, path, pattern):
    """The first capture of pattern in a source file: a documented default."""
    m = re.search(pattern, read(os.path.join(src, path)))
    if not m:
        raise SystemExit(f"FAIL: {path}: no match for {pattern!r} (the check is out of date)")
    return m.group(1)


class Checker:
    def __init__(self, args):
        self.args = args
        self.failures = []

    def fail(self, msg):
        self.failures.append(msg)

    # -- documents -----------------------------------------------------------
    def load(self):
        try:
            docs = [d for d in yaml.safe_load_all(read(self.args.manifest)) if d is not None]
        except yaml.YAMLError as e:
            self.fail(f"manifest is not well-formed YAML: {e}")
            return None
        for i, d in enumerate(docs):
            if not isinstance(d, dict):
                self.fail(f"document {i} is not a mapping")
                continue
            for key in ("apiVersion", "kind"):
                if not isinstance(d.get(key), str) or not d[key]:
                    self.fail(f"document {i} has no {key}")
            meta = d.get("metadata")
            if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
                self.fail(f"document {i} ({d.get('kind')}) has no metadata.name")
        return [d for d in docs if isinstance(d, dict)]

    def one(self, docs, kind, api):
        found = [d for d in docs if d.get("kind") == kind]
        if len(found) != 1:
            self.fail(f"expected exactly one {kind}, found {len(found)}")
            return None
        if found[0].get("apiVersion") != api:
            self.fail(f"{kind}: apiVersion {found[0].get('apiVersion')!r}, expected {api!r}")
        return found[0]

    # -- RBAC ----------------------------------------------------------------
    def check_rbac(self, sa, role, binding, ds):
        for obj in (sa, ds):
            if obj and obj.get("metadata", {}).get("namespace") != "kube-system":
                self.fail(f"{obj['kind']} is not in kube-system")
        if role:
            rules = role.get("rules") or []
            if not rules:
                self.fail("ClusterRole has no rules")
            verbs_seen = set()
            for r in rules:
                if r.get("apiGroups") != [""]:
                    self.fail(f"ClusterRole rule apiGroups {r.get('apiGroups')}: nodes only (core group)")
                if r.get("resources") != ["nodes"]:
                    self.fail(f"ClusterRole rule resources {r.get('resources')}: nodes only")
                if r.get("resourceNames") or r.get("nonResourceURLs"):
                    self.fail("ClusterRole rule has resourceNames/nonResourceURLs: nodes only")
                verbs = set(r.get("verbs") or [])
                if not verbs <= {"get", "list", "watch"}:
                    self.fail(f"ClusterRole verbs {sorted(verbs)} are not read-only (get, list, watch)")
                verbs_seen |= verbs
            if not {"list", "watch"} <= verbs_seen:
                self.fail("ClusterRole must allow list and watch on nodes (podnetd watches them)")
        if binding and role and sa and ds:
            ref = binding.get("roleRef") or {}
            if ref.get("kind") != "ClusterRole" or ref.get("name") != role["metadata"].get("name"):
                self.fail("ClusterRoleBinding roleRef does not name the ClusterRole")
            subjects = binding.get("subjects") or []
            want = {"kind": "ServiceAccount", "name": sa["metadata"].get("name"), "namespace": "kube-system"}
            if not any(all(s.get(k) == v for k, v in want.items()) for s in subjects):
                self.fail("ClusterRoleBinding does not bind the ServiceAccount")
            if ds["spec"]["template"]["spec"].get("serviceAccountName") != sa["metadata"].get("name"):
                self.fail("DaemonSet serviceAccountName is not the ServiceAccount")

    # -- image ---------------------------------------------------------------
    def documented_image(self):
        text = read(self.args.containerfile)
        tags = set(re.findall(r"(?:podman|docker) build -f conf/Containerfile -t (\S+) \.", text))
        if len(tags) != 1:
            self.fail(f"Containerfile documents {len(tags)} image tags ({sorted(tags)}), expected one")
            return None
        image = tags.pop()
        version = cxx_string(self.args.src, "CMakeLists.txt", r"project\(podnet VERSION (\S+)")
        if not image.endswith(":" + version):
            self.fail(f"Containerfile image {image} is not tagged with the project version {version}")
        label = re.search(r'org\.opencontainers\.image\.version="([^"]+)"', text)
        if not label or label.group(1) != version:
            self.fail(f"Containerfile's version label is not the project version {version}")
        readme = read(os.path.join(self.args.src, "README.md"))
        for other in set(re.findall(r"localhost/podnet:\S+?(?=[\s`'\"]|$)", readme)) - {image}:
            self.fail(f"README names image {other}, Containerfile builds {image}")
        return image

    def check_containerfile_build(self):
        """The Containerfile's build: static CNI binaries, installed where its COPY lines take them."""
        text = read(self.args.containerfile)
        cmake = read(os.path.join(self.args.src, "CMakeLists.txt"))
        if "-DPODNET_STATIC=ON" not in text or "option(PODNET_STATIC" not in cmake:
            self.fail("the Containerfile does not build podnet and podnet-ipam static (-DPODNET_STATIC=ON): "
                      "they run on the node, outside the image")
        prefix = re.search(r"-DCMAKE_INSTALL_PREFIX=(\S+)", text)
        cni_dir = re.search(r"-DPODNET_CNI_BIN_DIR=(\S+)", text)
        stage = re.search(r"DESTDIR=(\S+) cmake --install", text)
        if not (prefix and cni_dir and stage):
            self.fail("the Containerfile does not set CMAKE_INSTALL_PREFIX, PODNET_CNI_BIN_DIR and DESTDIR")
            return
        sources = set()
        for line in text.splitlines():
            m = re.match(r"COPY\s+--from=\S+\s+(.+)$", line.strip())
            if m:
                sources.update(m.group(1).split()[:-1])
        wanted = [f"{stage.group(1)}{prefix.group(1)}/sbin/podnetd"]
        wanted += [f"{stage.group(1)}{cni_dir.group(1)}/{b}" for b in CNI_BINARIES]
        for path in wanted:
            if path not in sources:
                self.fail(f"the Containerfile installs {path} but copies no such file into the image")
        self.check_build_packages(text)
        if cni_dir.group(1) != IMAGE_DIR_CNI:
            self.fail(f"the Containerfile's PODNET_CNI_BIN_DIR {cni_dir.group(1)} is not {IMAGE_DIR_CNI}")

    def check_build_packages(self, text):
        """Every dependency of the CMake files is installed by the build stage."""
        first = text[: text.find("\nFROM ", text.find("FROM ") + 1)]
        m = re.search(r"apt-get install(.*?)&&", first, re.S)
        installed = set(m.group(1).replace("\\", " ").split()) if m else set()
        for root, dirs, files in os.walk(self.args.src):
            dirs[:] = [d for d in dirs if not d.startswith(("build", "."))]
            for name in files:
                if name != "CMakeLists.txt":
                    continue
                cm = read(os.path.join(root, name))
                for dep in re.findall(r"^\s*(?:find_package|pkg_check_modules)\((\w[\w-]*)", cm, re.M):
                    if dep not in CMAKE_DEPENDENCY_PACKAGES:
                        self.fail(f"{os.path.relpath(os.path.join(root, name), self.args.src)}: dependency {dep} "
                                  "is unknown to k8s_manifest.py: add its Debian package there "
                                  "and to the Containerfile")
                        continue
                    for pkg in CMAKE_DEPENDENCY_PACKAGES[dep]:
                        if pkg not in installed:
                            self.fail(f"the Containerfile's build stage does not install {pkg} (for {dep})")

    def image_paths(self):
        """Paths the Containerfile's last stage copies into the image."""
        text = read(self.args.containerfile)
        last = text[text.rfind("\nFROM ") :]
        paths = set()
        for line in last.splitlines():
            m = re.match(r"COPY\s+--from=\S+\s+(.+)$", line.strip())
            if not m:
                continue
            parts = m.group(1).split()
            srcs, dest = parts[:-1], parts[-1]
            for s in srcs:
                paths.add(dest + os.path.basename(s.rstrip("/")) if dest.endswith("/") else dest)
        return paths

    # -- the DaemonSet -------------------------------------------------------
    def check_daemonset(self, ds, image, help_text):
        spec = ds.get("spec") or {}
        pod = (spec.get("template") or {}).get("spec") or {}
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            self.fail("DaemonSet selector does not match the pod template's labels")
        if (spec.get("updateStrategy") or {}).get("type") != "RollingUpdate":
            self.fail("DaemonSet updateStrategy is not RollingUpdate")
        if pod.get("hostNetwork") is not True:
            self.fail("DaemonSet is not hostNetwork")
        if pod.get("priorityClassName") != "system-node-critical":
            self.fail("DaemonSet priorityClassName is not system-node-critical")
        if not any(t.get("operator") == "Exists" and not t.get("key") and not t.get("effect")
                   for t in pod.get("tolerations") or []):
            self.fail("DaemonSet does not tolerate every taint (operator: Exists, no key, no effect)")

        volumes = {}
        for v in pod.get("volumes") or []:
            volumes[v.get("name")] = v
        inits = pod.get("initContainers") or []
        mains = pod.get("containers") or []
        used = set()
        for c in inits + mains:
            if c.get("image") != image:
                self.fail(f"container {c.get('name')}: image {c.get('image')}, Containerfile builds {image}")
            for m in c.get("volumeMounts") or []:
                if m.get("name") not in volumes:
                    self.fail(f"container {c.get('name')} mounts undeclared volume {m.get('name')}")
                used.add(m.get("name"))
            sc = c.get("securityContext") or {}
            if sc.get("privileged"):
                self.fail(f"container {c.get('name')} is privileged")
        for name in volumes:
            if name not in used:
                self.fail(f"volume {name} is declared but mounted by no container")

        in_image = self.image_paths()
        self.check_init(inits, volumes, in_image)
        podnetd = [c for c in mains if c.get("name") == "podnetd"]
        if len(podnetd) != 1:
            self.fail("no container named podnetd")
            return
        self.check_podnetd(podnetd[0], volumes, in_image, help_text)

    def host_path_of(self, container, mount_path, volumes):
        """The hostPath behind mount_path in container, or None."""
        for m in container.get("volumeMounts") or []:
            if m.get("mountPath", "").rstrip("/") == mount_path.rstrip("/"):
                v = volumes.get(m.get("name")) or {}
                return (v.get("hostPath") or {}).get("path")
        return None

    def check_init(self, inits, volumes, in_image):
        if len(inits) != 1:
            self.fail(f"expected one init container (CNI binaries), found {len(inits)}")
            return
        init = inits[0]
        script = " ".join(init.get("command") or []) + " " + " ".join(init.get("args") or [])
        m = re.search(r"for b in ([^;]+);", script)
        copied = m.group(1).split() if m else []
        if sorted(copied) != sorted(CNI_BINARIES):
            self.fail(f"init container copies {copied}, expected {CNI_BINARIES}")
        for b in copied:
            if not os.access(os.path.join(self.args.bin, b), os.X_OK):
                self.fail(f"init container copies {b}, which is not a build output ({self.args.bin})")
            if f"{IMAGE_DIR_CNI}/{b}" not in in_image:
                self.fail(f"init container copies {IMAGE_DIR_CNI}/{b}, which the Containerfile does not put there")
        dest = re.findall(r"mv -f \S+ (\S+)/\$b\b", script)
        if len(dest) != 1:
            self.fail("init container: no `mv -f TMP DIR/$b` found")
            return
        host = self.host_path_of(init, dest[0], volumes)
        cni_bin = cxx_string(self.args.src, "CMakeLists.txt", r"set\(PODNET_CNI_BIN_DIR (\S+) CACHE")
        if host != cni_bin:
            self.fail(f"init container writes {dest[0]}, which is hostPath {host}, not {cni_bin}")

    def check_podnetd(self, c, volumes, in_image, help_text):
        argv = list(c.get("command") or []) + list(c.get("args") or [])
        if not argv or argv[0] not in in_image or os.path.basename(argv[0]) != "podnetd":
            self.fail(f"podnetd command {argv[:1]} is not podnetd as the Containerfile installs it")
            return
        flags = {}
        i = 1
        while i < len(argv):
            a = argv[i]
            if not a.startswith("--"):
                self.fail(f"podnetd argument {a!r} is not a --flag")
                i += 1
                continue
            name, eq, value = a.partition("=")
            if not eq:
                value = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else ""
                i += 1 if value == "" else 2
            else:
                i += 1
            if not re.search(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", help_text):
                self.fail(f"podnetd flag {name} is not accepted by podnetd (not in podnetd --help)")
            flags[name] = value
        if flags.get("--source") != "kubernetes":
            self.fail("podnetd does not run with --source kubernetes")
        env = {e.get("name"): e for e in c.get("env") or []}
        for ref in re.findall(r"\$\((\w+)\)", " ".join(argv)):
            if ref not in env:
                self.fail(f"podnetd argument uses $({ref}), which is not in env")
        node = re.fullmatch(r"\$\((\w+)\)", flags.get("--node-name", ""))
        field = (((env.get(node.group(1)) if node else None) or {}).get("valueFrom") or {}).get("fieldRef") or {}
        if field.get("fieldPath") != "spec.nodeName":
            self.fail("--node-name does not come from the downward API (spec.nodeName)")

        # The paths: each documented default, and the host directory behind it.
        conf_default = cxx_string(self.args.src, "daemon/daemon.hpp", r'cniConfDir = "([^"]+)"')
        conf_dir = flags.get("--cni-conf-dir", conf_default)
        if conf_dir != conf_default:
            self.fail(f"--cni-conf-dir {conf_dir} is not the documented {conf_default}")
        if self.host_path_of(c, conf_dir, volumes) != conf_default:
            self.fail(f"podnetd's {conf_dir} is not the hostPath {conf_default}")
        data_default = cxx_string(self.args.src, "include/podnet/ipam/config.hpp", r'kDefaultDataDir = "([^"]+)"')
        if flags.get("--ipam-data-dir", data_default) != data_default:
            self.fail(f"--ipam-data-dir {flags['--ipam-data-dir']} is not podnet-ipam's default {data_default}")
        cni_bin = cxx_string(self.args.src, "CMakeLists.txt", r"set\(PODNET_CNI_BIN_DIR (\S+) CACHE")
        for v in volumes.values():
            hp = (v.get("hostPath") or {}).get("path")
            if hp is not None and hp not in {cni_bin, conf_default, data_default}:
                self.fail(f"volume {v.get('name')}: hostPath {hp} is none of the documented paths")

        # Capabilities: NET_ADMIN (and NET_RAW at most), everything else dropped.
        caps = (c.get("securityContext") or {}).get("capabilities") or {}
        added = set(caps.get("add") or [])
        if "NET_ADMIN" not in added:
            self.fail("podnetd lacks NET_ADMIN")
        if added - ALLOWED_CAPS:
            self.fail(f"podnetd adds capabilities beyond NET_ADMIN/NET_RAW: {sorted(added - ALLOWED_CAPS)}")
        if "ALL" not in (caps.get("drop") or []):
            self.fail("podnetd does not drop ALL other capabilities")

        # Probes reach podnetd's --listen address and a path podnetd serves.
        listen = flags.get("--listen", cxx_string(self.args.src, "daemon/daemon.hpp", r'listen = "([^"]+)"'))
        host, _, port = listen.rpartition(":")
        served = set(re.findall(r'path == "(/\w+)"', read(os.path.join(self.args.src, "daemon/daemon.cpp"))))
        for probe in ("readinessProbe", "livenessProbe"):
            get = (c.get(probe) or {}).get("httpGet")
            if not get:
                self.fail(f"podnetd has no {probe}.httpGet")
                continue
            if str(get.get("port")) != port or get.get("host") != host.strip("[]"):
                self.fail(f"{probe} probes {get.get('host')}:{get.get('port')}, podnetd listens on {listen}")
            if get.get("path") not in served:
                self.fail(f"{probe} path {get.get('path')} is not served by podnetd ({sorted(served)})")
        if ((c.get("readinessProbe") or {}).get("httpGet") or {}).get("path") != "/healthz":
            self.fail("readinessProbe is not /healthz")
        res = c.get("resources") or {}
        if not (res.get("requests") or {}).get("memory") or not (res.get("limits") or {}).get("memory"):
            self.fail("podnetd has no memory request and limit")

    def run(self):
        help_text = read(self.args.podnetd_help)
        docs = self.load()
        if docs is None:
            return
        sa = self.one(docs, "ServiceAccount", "v1")
        role = self.one(docs, "ClusterRole", "rbac.authorization.k8s.io/v1")
        binding = self.one(docs, "ClusterRoleBinding", "rbac.authorization.k8s.io/v1")
        ds = self.one(docs, "DaemonSet", "apps/v1")
        extra = [d.get("kind") for d in docs
                 if d.get("kind") not in {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"}]
        if extra:
            self.fail(f"unexpected documents: {extra}")
        image = self.documented_image()
        self.check_containerfile_build()
        self.check_rbac(sa, role, binding, ds)
        if ds and image:
            try:
                self.check_daemonset(ds, image, help_text)
            except (AttributeError, KeyError, TypeError) as e:
                self.fail(f"DaemonSet has an unexpected shape: {e!r}")


# -- negative cases: one defect each -----------------------------------------
def _ds(docs):
    return next(d for d in docs if d["kind"] == "DaemonSet")


def _pod(docs):
    return _ds(docs)["spec"]["template"]["spec"]


def _podnetd(docs):
    return next(c for c in _pod(docs)["containers"] if c["name"] == "podnetd")


def _role(docs):
    return next(d for d in docs if d["kind"] == "ClusterRole")


def _set_flag(docs, flag, value):
    cmd = _podnetd(docs)["command"]
    cmd[cmd.index(flag) + 1] = value


def _init_script(docs, old, new):
    cmd = _pod(docs)["initContainers"][0]["command"]
    cmd[-1] = cmd[-1].replace(old, new)


MUTATIONS = {
    # name: (what it breaks, function on the documents) or (text mutation on manifest / Containerfile)
    "yaml_broken": ("text", lambda t: t + "\n  - : ]\n"),
    "no_api_version": ("docs", lambda d: _role(d).pop("apiVersion")),
    "no_name": ("docs", lambda d: _role(d)["metadata"].pop("name")),
    "rbac_write": ("docs", lambda d: _role(d)["rules"][0]["verbs"].append("patch")),
    "rbac_wildcard": ("docs", lambda d: _role(d)["rules"][0].update(verbs=["*"])),
    "rbac_secrets": ("docs", lambda d: _role(d)["rules"].append(
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})),
    "binding_other_role": ("docs", lambda d: next(x for x in d if x["kind"] == "ClusterRoleBinding")
                           ["roleRef"].update(name="cluster-admin")),
    "image_other_tag": ("docs", lambda d: _podnetd(d).update(image="localhost/podnet:9.9.9")),
    "init_image_other": ("docs", lambda d: _pod(d)["initContainers"][0].update(image="busybox")),
    "containerfile_other_tag": ("containerfile", lambda t: t.replace("-t localhost/podnet:0.1.0",
                                                                     "-t localhost/podnet:0.2.0")),
    "containerfile_no_cni": ("containerfile", lambda t: t.replace(
        " /stage/usr/lib/podnet/cni/podnet-ipam /usr/lib/podnet/cni/", " /usr/lib/podnet/cni/")),
    "containerfile_not_static": ("containerfile", lambda t: t.replace(" -DPODNET_STATIC=ON", "")),
    "containerfile_cni_dir": ("containerfile", lambda t: t.replace("-DPODNET_CNI_BIN_DIR=/usr/lib/podnet/cni",
                                                                  "-DPODNET_CNI_BIN_DIR=/usr/lib/cni")),
    "containerfile_no_yaml_cpp": ("containerfile", lambda t: t.replace(" libyaml-cpp-dev", "")),
    "init_copies_unknown": ("docs", lambda d: _init_script(d, "for b in podnet podnet-ipam;",
                                                           "for b in podnet podnet-ipam podnet-extra;")),
    "init_wrong_dest": ("docs", lambda d: _init_script(d, "mv -f /host/opt/cni/bin/.$b.podnet-new /host/opt/cni/bin/$b",
                                                       "mv -f /host/opt/cni/bin/.$b.podnet-new /opt/cni/bin/$b")),
    "mount_undeclared": ("docs", lambda d: _podnetd(d)["volumeMounts"][0].update(name="cni-conff")),
    "volume_unused": ("docs", lambda d: _pod(d)["volumes"].append(
        {"name": "extra", "hostPath": {"path": "/opt/cni/bin"}})),
    "hostpath_other": ("docs", lambda d: next(v for v in _pod(d)["volumes"] if v["name"] == "cni-conf")
                       ["hostPath"].update(path="/etc/cni/other")),
    "hostpath_undocumented": ("docs", lambda d: (
        _pod(d)["volumes"].append({"name": "root", "hostPath": {"path": "/"}}),
        _podnetd(d)["volumeMounts"].append({"name": "root", "mountPath": "/host"}))),
    "flag_unknown": ("docs", lambda d: _podnetd(d)["command"].extend(["--no-such-flag", "1"])),
    "flag_source_file": ("docs", lambda d: _set_flag(d, "--source", "file")),
    "conf_dir_other": ("docs", lambda d: _set_flag(d, "--cni-conf-dir", "/etc/cni/other")),
    "ipam_dir_other": ("docs", lambda d: _set_flag(d, "--ipam-data-dir", "/var/lib/other")),
    "node_name_not_downward": ("docs", lambda d: _podnetd(d)["env"][0]["valueFrom"]["fieldRef"].update(
        fieldPath="metadata.name")),
    "node_name_no_env": ("docs", lambda d: _podnetd(d).pop("env")),
    "not_host_network": ("docs", lambda d: _pod(d).update(hostNetwork=False)),
    "privileged": ("docs", lambda d: _podnetd(d)["securityContext"].update(privileged=True)),
    "cap_sys_admin": ("docs", lambda d: _podnetd(d)["securityContext"]["capabilities"]["add"].append("SYS_ADMIN")),
    "no_net_admin": ("docs", lambda d: _podnetd(d)["securityContext"]["capabilities"].update(add=[])),
    "no_tolerations": ("docs", lambda d: _pod(d).pop("tolerations")),
    "no_priority": ("docs", lambda d: _pod(d).pop("priorityClassName")),
    "on_delete": ("docs", lambda d: _ds(d)["spec"].update(updateStrategy={"type": "OnDelete"})),
    "probe_other_port": ("docs", lambda d: _podnetd(d)["readinessProbe"]["httpGet"].update(port=9651)),
    "probe_unserved_path": ("docs", lambda d: _podnetd(d)["livenessProbe"]["httpGet"].update(path="/live")),
    "selector_mismatch": ("docs", lambda d: _ds(d)["spec"]["selector"]["matchLabels"].update(
        {"app.kubernetes.io/name": "other"})),
}


def mutate(name, args, out):
    kind, fn = MUTATIONS[name]
    manifest, containerfile = read(args.manifest), read(args.containerfile)
    if kind == "text":
        manifest = fn(manifest)
    elif kind == "containerfile":
        new = fn(containerfile)
        if new == containerfile:
            raise SystemExit(f"mutation {name} changed nothing")
        containerfile = new
    else:
        docs = [d for d in yaml.safe_load_all(manifest) if d is not None]
        before = copy.deepcopy(docs)
        fn(docs)
        if docs == before:
            raise SystemExit(f"mutation {name} changed nothing")
        manifest = yaml.safe_dump_all(docs, sort_keys=False)
    os.makedirs(out, exist_ok=True)
    paths = (os.path.join(out, "podnet.yaml"), os.path.join(out, "Containerfile"))
    for path, text in zip(paths, (manifest, containerfile)):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return paths


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("check", "negatives"):
        c = sub.add_parser(name)
        c.add_argument("--manifest", required=True)
        c.add_argument("--containerfile", required=True)
        c.add_argument("--src", required=True)
        c.add_argument("--bin", required=True)
        c.add_argument("--podnetd-help", required=True)
        if name == "negatives":
            c.add_argument("--out", required=True)
    i = sub.add_parser("init-script")
    i.add_argument("--manifest", required=True)
    args = p.parse_args()
    if args.cmd == "init-script":
        docs = [d for d in yaml.safe_load_all(read(args.manifest)) if d is not None]
        print(_pod(docs)["initContainers"][0]["command"][-1], end="")
        return 0
    if args.cmd == "negatives":
        for name in MUTATIONS:
            mutated = copy.copy(args)
            mutated.manifest, mutated.containerfile = mutate(name, args, os.path.join(args.out, name))
            checker = Checker(mutated)
            checker.run()
            print(name + "\t" + " | ".join(" ".join(f.split()) for f in checker.failures))
        return 0
    checker = Checker(args)
    checker.run()
    for f in checker.failures:
        print("FAIL: " + f)
    return 1 if checker.failures else 0


if __name__ == "__main__":
    sys.exit(main())
