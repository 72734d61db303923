using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Replicator.Proxy;

/// <summary>
/// How an https origin's certificate is judged: by the system's authorities, as any TLS client does, and by the
/// extra authorities of --ca-file (a LAN's own CA) when the system's do not vouch for it. The host name must match
/// either way; there is no switch to skip the check.
/// </summary>
internal static class UpstreamTls
{
    /// <summary>Reads the certificates of a PEM file (--ca-file); throws <see cref="FormatException"/> with the reason.</summary>
    public static X509Certificate2Collection ReadAuthorities(string path)
    {
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new FormatException($"cannot read certificates from {path}: {e.Message}");
        }

        return authorities.Count > 0 ? authorities : throw new FormatException($"{path} holds no PEM certificate");
    }

    /// <summary>The check of an origin's certificate; null (the system's own) without extra authorities.</summary>
    public static RemoteCertificateValidationCallback? Validator(X509Certificate2Collection extra) => extra.Count == 0 ? null : (_, certificate, chain, errors) =>
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        // Only an unknown authority may be made good by ours; a name mismatch or a missing certificate may not.
        if (errors != SslPolicyErrors.RemoteCertificateChainErrors || certificate is null)
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(extra);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return custom.Build(leaf);
    };
}
