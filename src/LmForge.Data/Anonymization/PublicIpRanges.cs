using System.Net;
using System.Net.Sockets;

namespace LmForge.Data.Anonymization;

/// <summary>
/// Whether an IP address is public, with the verdict of Python's <c>ipaddress.ip_address(a).is_global</c> that
/// FineWeb's PII step uses: not private, loopback, link-local, shared (CGNAT), reserved, unspecified or
/// documentation space (IANA special-purpose registries); multicast counts as global there, and so here.
/// </summary>
public static class PublicIpRanges
{
    private static readonly (IPAddress Network, int Prefix)[] NonPublic =
    [
        .. new[]
        {
            ("0.0.0.0", 8), ("10.0.0.0", 8), ("100.64.0.0", 10), ("127.0.0.0", 8), ("169.254.0.0", 16), ("172.16.0.0", 12),
            ("192.0.0.0", 24), ("192.0.2.0", 24), ("192.88.99.0", 24), ("192.168.0.0", 16), ("198.18.0.0", 15), ("198.51.100.0", 24),
            ("203.0.113.0", 24), ("240.0.0.0", 4),
            ("::", 128), ("::1", 128), ("::ffff:0:0", 96), ("64:ff9b:1::", 48), ("100::", 64), ("2001::", 23), ("2001:db8::", 32),
            ("2002::", 16), ("fc00::", 7), ("fe80::", 10),
        }.Select(r => (IPAddress.Parse(r.Item1), r.Item2)),
    ];

    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        foreach (var (network, prefix) in NonPublic)
        {
            if (network.AddressFamily == address.AddressFamily && InNetwork(address, network, prefix)) return false;
        }
        return address.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6;
    }

    private static bool InNetwork(IPAddress address, IPAddress network, int prefix)
    {
        Span<byte> a = stackalloc byte[16], n = stackalloc byte[16];
        address.TryWriteBytes(a, out int length);
        network.TryWriteBytes(n, out _);
        int full = prefix / 8, rest = prefix % 8;
        if (!a[..full].SequenceEqual(n[..full])) return false;
        if (rest == 0 || full >= length) return true;
        int mask = 0xFF << (8 - rest) & 0xFF;
        return (a[full] & mask) == (n[full] & mask);
    }
}
