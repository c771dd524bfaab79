#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""compare-trace.py [--verbose] REFERENCE.trace SHIM.trace

Compares the service calls a real image made under OVMF (REFERENCE: a trace of
tests/conformance/traces/, `#SEQ dDEPTH CALLER SERVICE(args) -> STATUS outputs`) with the calls
the same image made under efikexec's shim (SHIM: the output of `efikexec run-efi --trace`).

Both traces are reduced to one canonical line per call: who called (the image's label, or
`pages` for code running from pages it allocated), the nesting depth, the service, the arguments
and outputs that are not addresses, and the status. Addresses (pointers, handles, buffers, the
random address the kernel picks for itself, map keys) and the sizes of the machine's memory map
differ between any two boots and are left out; everything else must be equal, call by call.

Where the shim answers differently from OVMF on purpose, the difference is named below in
ALLOWED, with its reason (docs/conformance.md lists the same): each allowed difference rewrites
or removes exactly the calls it explains, on the side they occur. The comparison then has to be
exact. The report says how many calls each allowed difference accounted for; an allowed
difference that matched nothing is shown too (the image may have changed path).

Exit status: 0 equal (modulo the allowed differences), 1 different, 2 usage or unreadable trace.
"""

import argparse
import difflib
import re
import sys

# ---------------------------------------------------------------------------------------------
# Parsing


def split_args(text):
    """Splits an argument list at top-level commas (quotes, brackets and braces nest)."""
    args, depth, quote, cur = [], 0, False, []
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            cur.append(c)
            if c == "\\" and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 1
            elif c == '"':
                quote = False
        elif c == '"':
            quote = True
            cur.append(c)
        elif c in "([{":
            depth += 1
            cur.append(c)
        elif c in ")]}":
            depth -= 1
            cur.append(c)
        elif c == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    if "".join(cur).strip():
        args.append("".join(cur).strip())
    return args


def close_paren(text, start):
    """Index of the ')' closing the '(' at start, or len(text) if unterminated."""
    depth, quote, i = 0, False, start
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == '"':
                quote = False
        elif c == '"':
            quote = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(text)


LINE = re.compile(r"^#(\d+) d(\d+) (\S+) (.*)$")


class Call:
    def __init__(self, seq, depth, caller, service, args, status, outputs, raw):
        self.seq, self.depth, self.caller, self.service = seq, depth, caller, service
        self.args, self.status, self.outputs, self.raw = args, status, outputs, raw
        self.parents = []  # seqs of the traced calls this one is nested in (OVMF's "<-")


def parse_trace(path):
    calls, by_seq, open_calls = [], {}, []
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            m = LINE.match(raw)
            if not m:
                continue
            seq, depth, caller, rest = int(m[1]), int(m[2]), m[3], m[4]
            if caller == "<-":
                # The result of a call that nested others (OVMF's tracer), e.g. LoadImage.
                m2 = re.match(r"^(\S+) -> (\S+)\s*(.*)$", rest)
                if m2 and seq in by_seq:
                    by_seq[seq].status = m2[2]
                    by_seq[seq].outputs = m2[3]
                if seq in open_calls:
                    open_calls.remove(seq)
                continue
            p = rest.find("(")
            if p < 0:
                continue
            service = rest[:p]
            end = close_paren(rest, p)
            args = rest[p + 1:end]
            tail = rest[end + 1:]
            status, outputs = None, ""
            m2 = re.match(r"^ -> (\S+)\s*(.*)$", tail)
            if m2:
                status, outputs = m2[1], m2[2]
                if "=" in status:  # a function returning a value, e.g. "-> str=0x... "text""
                    status, outputs = "", m2[1] + " " + m2[2]
            call = Call(seq, depth, caller, service, split_args(args), status, outputs, raw)
            call.parents = list(open_calls)
            calls.append(call)
            by_seq[seq] = call
            # A call line without a result nests the calls up to its "<-" line (OVMF's tracer).
            if status is None and caller != "<-" and service not in ("BS.StartImage",):
                open_calls.append(seq)
    return calls


# ---------------------------------------------------------------------------------------------
# Canonical form

HEX = re.compile(r"^0x[0-9a-fA-F]+$")
# Keys whose values are addresses, handles, or values that change every boot.
ADDRESS_KEYS = {
    "buf", "iface", "src", "dst", "table", "this", "root", "str", "device", "handle", "*handle",
    "map", "DevicePath", "LoadFile2", "drivers", "key", "mapkey", "base", "parent_image",
    "agent", "ctrl", "event", "registration", "interface", "old", "file",
}


def strip_decorations(value):
    """Removes the human-readable parts of a value: (8 KiB), [BS|RT], (= key of #N)..."""
    value = re.sub(r"\s*\((?:[0-9.]+\+? ?[KMG]iB|= key of #\d+|from #\d+)\)", "", value)
    value = re.sub(r"(0x[0-9a-fA-F]+)\[[A-Z0-9_|]+\]", r"\1", value)
    value = re.sub(r"\s*\[0x[0-9a-fA-F]+\]$", "", value)
    return value.strip()


def canon_value(key, value):
    value = strip_decorations(value)
    if key in ADDRESS_KEYS:
        return None
    if key is None and HEX.match(value):
        return "NULL" if int(value, 16) == 0 else "@"  # a positional pointer or handle
    return value


def canon_pairs(items):
    out = []
    for item in items:
        if not item:
            continue
        if "=" in item and re.match(r"^[*A-Za-z_][A-Za-z0-9_]*=", item):
            key, value = item.split("=", 1)
        else:
            key, value = None, item
        v = canon_value(key, value)
        if v is None or v == "":
            continue
        out.append(f"{key}={v}" if key else v)
    return out


def output_items(text):
    """Splits the outputs after the status into key=value items (lists and braces kept whole)."""
    text = text.replace("[boot services terminated; RT pointers restored]", "")
    items, cur, depth, quote = [], [], 0, False
    for c in text:
        if quote:
            cur.append(c)
            if c == '"':
                quote = False
            continue
        if c == '"':
            quote = True
        elif c in "[{(":
            depth += 1
        elif c in "]})":
            depth -= 1
        if c == " " and depth == 0:
            if cur:
                items.append("".join(cur))
            cur = []
            continue
        cur.append(c)
    if cur:
        items.append("".join(cur))
    return items


def caller_name(caller):
    if caller.startswith("pages@"):
        return "pages"
    m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\+0x", caller)
    return m[1] if m else "?"


# systemd's own version string (StubInfo, LoaderInfo): "systemd-stub 257.13-1~deb13u1". The
# images are rebuilt from Debian's packages at test time, so a point release or a rebuild
# (257.14-1~deb13u1) must not fail the comparison; the major version is the image's own and stays.
SYSTEMD_VERSION = re.compile(r'^data=u"(systemd-[a-z]+) (\d+)[^"]*"$')


def stub_version(args):
    """SetVariable arguments with systemd's version string cut to its major version, and the
    size that spells it checked (UTF-16 with its NUL) rather than compared."""
    data = next((a for a in args if SYSTEMD_VERSION.match(a)), None)
    if data is None:
        return args
    text = data[len('data=u"'):-1]
    m = SYSTEMD_VERSION.match(data)
    out = []
    for a in args:
        if a is data:
            out.append(f'data=u"{m[1]} {m[2]}.*"')
        elif a.startswith("size=") and HEX.match(a[5:]) and int(a[5:], 16) == 2 * (len(text) + 1):
            out.append("size=(its UTF-16)")
        else:
            out.append(a)
    return out


def canonical(call):
    service = call.service
    args = list(call.args)
    outputs = output_items(call.outputs)
    # Per service: what of it depends on the machine or the boot, not on the image.
    if service == "BS.GetMemoryMap":
        # The map is the machine's: sizes and key differ; a size probe (size 0) is the point.
        args = ["size=0" if a == "size=0x0" else "size=N" for a in args if a.startswith("size=")]
        outputs = [o for o in outputs if o.startswith("descsz=")]
    elif service == "BS.AllocatePages":
        # AllocateAddress: the kernel picks a random address from the map (physical KASLR).
        args = [a for a in args if not a.startswith("addr=")]
        outputs = [o for o in outputs if not o.startswith("addr=")]
    elif service in ("BS.LocateHandle",):
        outputs = [re.sub(r"^handles=\[(.*)\]$",
                          lambda m: f"handles={len(m[1].split(','))}", o) for o in outputs]
    elif service == "BS.LocateHandleBuffer":
        outputs = [o for o in outputs if not o.startswith("[") and not o.startswith("buf=")]
    elif service == "BS.StartImage":
        args = [a.rstrip(")") for a in args]
    elif service == "P.ConOut.OutputString":
        args = [a.replace("  [raw console text follows]", "") for a in args]
    elif service == "BS.FreePages":
        args = [a for a in args if not HEX.match(strip_decorations(a))]
    elif service in ("BS.HandleProtocol", "BS.OpenProtocol"):
        outputs = [o for o in outputs if not o.startswith("{") and not o.startswith("dp=")]
    elif service == "P.DevicePathToText.ConvertDevicePathToText":
        outputs = [o for o in outputs if not o.startswith("str=")]
    elif service == "RT.GetVariable":
        # The size a caller offers is its buffer; what matters is the answer.
        pass
    elif service == "RT.SetVariable":
        args = stub_version(args)
    parts = [caller_name(call.caller), f"d{call.depth}", service]
    line = " ".join(parts) + "(" + ", ".join(canon_pairs(args)) + ")"
    if call.status:
        line += " -> " + call.status
    elif call.status == "":
        line += " ->"
    outs = canon_pairs(outputs)
    if outs:
        line += " " + " ".join(outs)
    return line


# ---------------------------------------------------------------------------------------------
# Rewriting the canonical sequences. An entry is [canonical line, Call or None]. A pattern is a
# list of items, each a regular expression matching one entry, or Many(regex) matching as few
# consecutive entries as possible (zero or more) that all match regex (None: any entry).


class Many:
    def __init__(self, regex=None):
        self.regex = regex


def prefix(entry):
    """"caller dN" of an entry, for the entries a replacement makes."""
    return " ".join(entry[0].split(" ")[:2])


def match_at(seq, i, pattern):
    """Length of the match of pattern at seq[i:], or None."""
    if not pattern:
        return 0
    item, rest = pattern[0], pattern[1:]
    if isinstance(item, Many):
        j = i
        while True:
            tail = match_at(seq, j, rest)
            if tail is not None:
                return j - i + tail
            if j >= len(seq) or (item.regex is not None and not re.search(item.regex, seq[j][0])):
                return None
            j += 1
    if i < len(seq) and re.search(item, seq[i][0]):
        tail = match_at(seq, i + 1, rest)
        return None if tail is None else 1 + tail
    return None


def replace(seq, pattern, make):
    """Replaces every match of pattern with make(matched entries) (a list of entries or of
    canonical lines); returns how many entries were matched."""
    i, count = 0, 0
    while i < len(seq):
        n = match_at(seq, i, pattern)
        if n is None:
            i += 1
            continue
        matched = seq[i:i + n]
        new = [e if isinstance(e, list) else [e, None] for e in make(matched)]
        seq[i:i + n] = new
        count += n
        i += len(new)
    return count


def drop(seq, regex):
    return replace(seq, [regex], lambda m: [])


def set_status(entry, status_and_outputs):
    """The entry with its status (and outputs) replaced."""
    head = entry[0].split(" -> ")[0]
    return [f"{head} -> {status_and_outputs}", entry[1]]


class Allowed:
    def __init__(self, name, reason, apply):
        self.name, self.reason, self.apply = name, reason, apply


def rng_protocol(ref, shim):
    n = replace(shim, [r"BS\.LocateProtocol\(RNG\) -> Success", Many(r'RT\.GetVariable\("RandomSeed"'),
                       r"BS\.AllocatePool\(ACPIReclaim, size=0x24\)", r"P\.RNG\.GetRNG",
                       r"BS\.InstallConfigurationTable\(LINUX_EFI_RANDOM_SEED_TABLE\)"],
                lambda m: [set_status(m[0], "NotFound")] + m[1:-3])
    n += replace(shim, [r"BS\.LocateProtocol\(RNG\) -> Success", r"P\.RNG\.GetRNG"],
                 lambda m: [set_status(m[0], "NotFound")])
    return n


def no_unicode_collation(ref, shim):
    return replace(ref, [r"BS\.LocateHandle\(ByProtocol, UnicodeCollation\(v1\), bufsize=\w+\) -> Success",
                         r"BS\.HandleProtocol\(@, UnicodeCollation\(v1\)\) -> Success"],
                   lambda m: [re.sub(r"(bufsize=(\w+)\)) -> .*", r"\1 -> NotFound bufsize=\2", m[0][0])])


def firmware_vendor(ref, shim):
    n = 0
    for seq in (ref, shim):
        def vendor(m):
            out = [[re.sub(r"(size|len)=0x[0-9a-f]+", r"\1=VENDOR", e[0]), e[1]] for e in m[:-1]]
            last = re.sub(r"size=0x[0-9a-f]+, data=u\"[^\"]*\"", "size=VENDOR, data=VENDOR", m[-1][0])
            return out + [[last, m[-1][1]]]
        n += replace(seq, [Many(r"BS\.(AllocatePool\(LoaderData|CopyMem)"),
                           r'RT\.SetVariable\("LoaderFirmwareInfo"'], vendor)
    return n


def boot_volume_not_a_disk(ref, shim):
    # OVMF: the image came from partition 1 of a SATA disk; systemd-stub >= 257 looks up the
    # disk (LocateDevicePath(BlockIo) of the path without the HD node), connects it and reads
    # LBA 1 for a GPT header.
    return replace(ref, [r"BS\.AllocatePool\(LoaderData, size=0x20\)", r"BS\.CopyMem\(len=0x1c\)",
                         r"BS\.LocateDevicePath\(BlockIo, ", Many(r"BS\.(ConnectController|HandleProtocol|AllocatePages|FreePages|SetMem)|P\.(BlockIo|DiskIo)\."),
                         r"BS\.FreePool"], lambda m: [])


def image_protocols_untraced(ref, shim):
    # OVMF's tracer wrapped the LoadFile2 interface systemd-stub installed, so the kernel's calls
    # into the stub show as P.LoadFile2.LoadFile, and the stub's calls inside it one level
    # deeper. The shim traces the firmware's services only.
    n = 0
    dropped = set()
    for e in ref:
        if e[1] is not None and e[1].service == "P.LoadFile2.LoadFile":
            dropped.add(e[1].seq)
    for e in ref:
        if e[1] is not None and dropped & set(e[1].parents):
            e[1].depth -= len(dropped & set(e[1].parents))
            e[0] = canonical(e[1])
    n += drop(ref, r" P\.LoadFile2\.LoadFile\(")
    return n


def no_gop(ref, shim):
    graphics = r"BS\.HandleProtocol\(@, (GOP|ConsoleOutDevice|EdidActive|EdidDiscovered)\)"
    n = replace(ref, [r"BS\.LocateHandle\(ByProtocol, GOP, bufsize=0x0\) -> BufferTooSmall",
                      r"BS\.AllocatePool\(LoaderData", r"BS\.LocateHandle\(ByProtocol, GOP, bufsize=0x[0-9a-f]+\) -> Success",
                      Many(graphics), r"BS\.FreePool\(@\) -> Success"],
                lambda m: [f"{prefix(m[0])} BS.LocateHandle(ByProtocol, GOP, bufsize=0x0) -> NotFound bufsize=0x0"])
    n += replace(ref, [r"BS\.LocateHandleBuffer\(ByProtocol, GOP\) -> Success", Many(graphics),
                       r"BS\.FreePool\(@\) -> Success"],
                 lambda m: [f"{prefix(m[0])} BS.LocateHandleBuffer(ByProtocol, GOP) -> NotFound"])
    # Without GOP, Linux <= 6.12 also asks for the older UGA protocol (under OVMF too, when the
    # machine has no display).
    if not any("BS.LocateHandle(ByProtocol, UGA," in e[0] for e in ref):
        n += drop(shim, r"BS\.LocateHandle\(ByProtocol, UGA, bufsize=0x0\) -> NotFound")
    return n


def boot_volume_path(ref, shim):
    # A file on the boot volume that an image names by device path (systemd-stub's add-ons:
    # LoadImage by path, or LocateDevicePath to read it first) is the volume's device path with
    # the file's node appended; the stub copies the volume's path (CopyMem) into a buffer sized
    # for both (AllocatePool). Only the volume's part differs.
    n = 0
    volume_path = re.compile(r'dp=(?:[A-Za-z]+\([^()"]*\)/)+"')
    for seq in (ref, shim):
        for e in seq:
            if volume_path.search(e[0]):
                e[0] = volume_path.sub('dp=VOLUME/"', e[0])
                n += 1

        def sizes(m):
            copy = re.search(r"len=(0x[0-9a-f]+)", m[1][0])
            size = re.search(r"size=(0x[0-9a-f]+)", m[0][0])
            rest = int(size[1], 16) - int(copy[1], 16)
            return [[m[0][0].replace(size[0], f"size=VOLUME+{rest:#x}"), m[0][1]],
                    [m[1][0].replace(copy[0], "len=VOLUME"), m[1][1]]] + m[2:]
        # Between the copy and the use: the file node's copy and a look for shim's protocol.
        n += replace(seq, [r"BS\.AllocatePool\(LoaderData, size=0x", r"BS\.CopyMem\(len=0x",
                           Many(r"BS\.(CopyMem|LocateProtocol)\("), r'dp=VOLUME/"'], sizes)
    return n


def directory_size(ref, shim):
    # A directory's FileSize is the file system's: FAT answers with the clusters the directory
    # occupies, which depend on how the volume was formatted; the shim's directories (of the
    # host's file system) answer 0. Files are compared byte for byte.
    n = 0
    for seq in (ref, shim):
        for e in seq:
            attribute = re.search(r" Attribute=(0x[0-9a-f]+)$", e[0])
            if "P.File.GetInfo(" in e[0] and attribute:
                if int(attribute[1], 16) & 0x10:  # EFI_FILE_DIRECTORY
                    e[0] = re.sub(r"FileSize=0x[0-9a-f]+", "FileSize=DIRECTORY", e[0])
                    n += 1
    return n


def no_pciio(ref, shim):
    n = replace(ref, [r"BS\.LocateHandle\(ByProtocol, PciIo, bufsize=0x0\) -> BufferTooSmall",
                      Many(r"^(?!.*BS\.FreePool)"), r"BS\.FreePool\(@\) -> Success"],
                lambda m: [f"{prefix(m[0])} BS.LocateHandle(ByProtocol, PciIo, bufsize=0x0) -> NotFound bufsize=0x0",
                           f"{prefix(m[0])} BS.FreePool(NULL) -> InvalidParameter"])
    n += replace(ref, [r"BS\.LocateHandleBuffer\(ByProtocol, PciIo\) -> Success",
                       Many(r"^(?!.*BS\.FreePool)"), r"BS\.FreePool\(@\) -> Success"],
                 lambda m: [f"{prefix(m[0])} BS.LocateHandleBuffer(ByProtocol, PciIo) -> NotFound"])
    return n


def no_dxe_services(ref, shim):
    return drop(ref, r" DS\.")


def no_hii_database(ref, shim):
    return replace(ref, [r"BS\.LocateProtocol\(HiiDatabase\) -> Success",
                         r"P\.HiiDatabase\.GetKeyboardLayout"],
                   lambda m: [set_status(m[0], "NotFound")])


def no_security_arch_protocols(ref, shim):
    # Under Secure Boot systemd-stub replaces the FileAuthentication hooks of PI's Security and
    # Security2 architectural protocols while it loads the kernel it carries, so that the
    # firmware accepts the unsigned kernel of a verified UKI. The shim has no such hooks: it
    # refuses by their bytes the images the policy refused (add-ons), and the stub, finding no
    # protocol, loads the kernel directly.
    n = 0
    for name in ("SECURITY_ARCH", "SECURITY2_ARCH"):
        n += replace(ref, [rf"BS\.LocateProtocol\({name}\) -> Success"],
                     lambda m: [set_status(m[0], "NotFound")])
    return n


def e820_table(size):
    # struct setup_data (16 bytes) + n struct boot_e820_entry (20 bytes): the kernel's
    # SETUP_E820_EXT for the map entries beyond the 128 of boot_params.
    return size >= 16 + 20 and (size - 16) % 20 == 0


def small_memory_map(ref, shim):
    # Linux 6.1 sizes the table between two size probes of GetMemoryMap; 6.6 and later after
    # reading the map, then free the map buffer.
    n = 0
    for i in range(len(ref) - 2, 0, -1):
        m = re.search(r"BS\.AllocatePool\(LoaderData, size=(0x[0-9a-f]+)\)", ref[i][0])
        if not m or not e820_table(int(m[1], 16)):
            continue
        before, after = ref[i - 1][0], ref[i + 1][0]
        between_probes = ("BS.GetMemoryMap(size=0) -> BufferTooSmall" in before
                          and "BS.GetMemoryMap(size=0) -> BufferTooSmall" in after)
        after_read = "BS.GetMemoryMap(size=N) -> Success" in before and "BS.FreePool" in after
        if between_probes or after_read:
            del ref[i]
            n += 1
    return n


def host_cpu_is_a_vm(ref, shim):
    # systemd-stub >= 257 copies the 12-byte CPUID hypervisor signature (leaf 0x40000000) when
    # CPUID reports a hypervisor. run-efi executes CPUID natively: on a host that is itself a
    # virtual machine it does; in the traced TCG guest it did not. Such a copy comes from a call
    # site that made no call at all under OVMF (same binary, same offsets).
    sites = {e[1].caller for e in ref if e[1] is not None}
    before = len(shim)
    shim[:] = [e for e in shim
               if not (e[1] is not None and e[1].service == "BS.CopyMem"
                       and "len=0xc)" in e[0] and e[1].caller not in sites)]
    return before - len(shim)


def host_cpu_offers_la57(ref, shim):
    # The Linux stub (efi_setup_5level_paging) allocates two pages below 4 GiB for its switch
    # between 4- and 5-level paging when CPUID offers LA57. run-efi executes CPUID natively: on
    # such a host it does; the traced TCG CPU offered no LA57. Newer stubs allocate through a
    # helper whose call site others share, so the call is told by its arguments, which no call
    # under OVMF had, and only once.
    signature = "BS.AllocatePages(AllocateMaxAddress, LoaderData, pages=0x2, max=0xffffffff)"
    if any(signature in e[0] for e in ref):
        return 0
    for i, e in enumerate(shim):
        if signature in e[0]:
            del shim[i]
            return 1
    return 0


ALLOWED = [
    Allowed("rng-protocol",
            "the shim publishes EFI_RNG_PROTOCOL (host randomness); OVMF's q35 build has none. "
            "With it the stubs read random bytes and the kernel installs "
            "LINUX_EFI_RANDOM_SEED_TABLE",
            rng_protocol),
    Allowed("no-unicode-collation",
            "the shim has no UnicodeCollation protocol (systemd-stub 252 looks for one and "
            "falls back to its own case folding)",
            no_unicode_collation),
    Allowed("firmware-vendor",
            "the system table's FirmwareVendor is \"efikexec\", not \"EDK II\": systemd-stub "
            "stores it in LoaderFirmwareInfo",
            firmware_vendor),
    Allowed("boot-volume-not-a-disk",
            "the shim's boot volume is a vendor device (VenHw), not a partition of a disk: "
            "systemd-stub >= 257 finds no disk to read a GPT header from",
            boot_volume_not_a_disk),
    Allowed("image-protocols-untraced",
            "calls between images (the kernel calling the LoadFile2 systemd-stub installed) "
            "are not firmware services; OVMF's tracer wrapped them, the shim does not",
            image_protocols_untraced),
    Allowed("no-gop",
            "the shim has no graphics: no GOP (so no ConsoleOutDevice or EDID queries on GOP "
            "handles; Linux <= 6.12 then also asks for UGA)",
            no_gop),
    Allowed("boot-volume-path",
            "images loaded from the boot volume by path are named by the volume's device path "
            "(OVMF: the disk's PCI, SATA and partition nodes; the shim: one vendor node) with "
            "the file's node appended, in a buffer sized for both",
            boot_volume_path),
    Allowed("directory-size",
            "a directory's FileSize is the file system's (FAT: the clusters it occupies); the "
            "shim's directories answer 0",
            directory_size),
    Allowed("no-pciio",
            "the shim publishes no PCI devices: the kernel finds no PciIo handles and copies no "
            "option ROM (Linux <= 6.12 then frees its NULL handle buffer: InvalidParameter, as "
            "OVMF answers too)",
            no_pciio),
    Allowed("no-dxe-services",
            "the shim publishes no DXE services table: the kernels skip "
            "GetMemorySpaceDescriptor on their buffers",
            no_dxe_services),
    Allowed("no-hii-database",
            "the shim has no HII database: systemd-stub >= 258 finds no keyboard layout to "
            "report",
            no_hii_database),
    Allowed("host-cpu-is-a-vm",
            "run-efi runs CPUID natively; on a host that is a virtual machine systemd-stub "
            ">= 257 copies the hypervisor's CPUID signature (one 12-byte CopyMem) where the "
            "traced TCG guest reported no hypervisor",
            host_cpu_is_a_vm),
    Allowed("host-cpu-offers-la57",
            "run-efi runs CPUID natively; on a host whose CPU offers 5-level paging the Linux "
            "stub allocates two pages below 4 GiB for its paging-mode switch, where the traced "
            "TCG CPU offered none",
            host_cpu_offers_la57),
    Allowed("no-security-arch-protocols",
            "the shim has no PI Security/Security2 architectural protocols: under Secure Boot "
            "systemd-stub finds no verification hooks to override while it loads the kernel it "
            "carries (the shim refuses by their bytes only the images the policy refused)",
            no_security_arch_protocols),
    Allowed("small-memory-map",
            "OVMF's memory map has more than 120 entries, so the kernel allocates a "
            "SETUP_E820_EXT table for the rest; the shim's map of the same machine is shorter",
            small_memory_map),
]


def normalise_machine(seq):
    """Values that are the machine's, not the image's: the memory map's size decides the
    buffers the kernel allocates for it."""
    for i in range(1, len(seq)):
        if re.search(r"BS\.GetMemoryMap\(size=0\) -> BufferTooSmall", seq[i - 1][0]):
            seq[i][0] = re.sub(r"(BS\.AllocatePool\(\w+, size=)0x[0-9a-f]+", r"\1MAP", seq[i][0])


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reference")
    ap.add_argument("shim")
    ap.add_argument("--verbose", action="store_true", help="print both canonical sequences")
    ap.add_argument("--no-allow", action="store_true", help="apply no allowed difference")
    a = ap.parse_args()
    try:
        ref_calls = parse_trace(a.reference)
        shim_calls = parse_trace(a.shim)
    except OSError as e:
        print(f"compare-trace: {e}", file=sys.stderr)
        return 2
    if not ref_calls or not shim_calls:
        print("compare-trace: a trace has no calls", file=sys.stderr)
        return 2
    ref = [[canonical(c), c] for c in ref_calls]
    shim = [[canonical(c), c] for c in shim_calls]
    used = []
    if not a.no_allow:
        for allowed in ALLOWED:
            count = allowed.apply(ref, shim)
            used.append((allowed, count))
    normalise_machine(ref)
    normalise_machine(shim)
    if a.verbose:
        for name, seq in (("reference", ref), ("shim", shim)):
            print(f"== {name}")
            for e in seq:
                print(e[0])
    for allowed, count in used:
        if count:
            print(f"compare-trace: allowed difference {allowed.name}: {count} call(s) "
                  f"({allowed.reason})")
    diff = list(difflib.unified_diff([e[0] for e in ref], [e[0] for e in shim],
                                     "OVMF " + a.reference, "shim " + a.shim, lineterm="", n=2))
    if diff:
        for line in diff:
            print(line)
        print(f"compare-trace: DIFFERENT: {len(ref_calls)} OVMF calls, {len(shim_calls)} shim "
              f"calls; unexplained differences above")
        return 1
    print(f"compare-trace: same sequence: {len(ref)} calls after the allowed differences "
          f"({len(ref_calls)} OVMF, {len(shim_calls)} shim)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
