using System.Text;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>
/// --external [user:pass@]host:port: a parent proxy that every upstream request goes through, in absolute form,
/// with Proxy-Authorization when credentials were given (as the original 3.0 did); CONNECT goes through it too.
/// </summary>
internal sealed record ParentProxy(string Host, int Port, string? Authorization)
{
    /// <summary>Parses the option's value; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static ParentProxy Parse(string value)
    {
        var at = value.LastIndexOf('@');
        var credentials = at < 0 ? null : value[..at];
        var authority = at < 0 ? value : value[(at + 1)..];
        if (credentials is not null && !credentials.Contains(':', StringComparison.Ordinal))
        {
            throw new FormatException($"'{value}': credentials are user:pass");
        }

        if (!authority.Contains(':', StringComparison.Ordinal) || authority.EndsWith(']'))
        {
            throw new FormatException($"'{value}' has no port (host:port)");
        }

        try
        {
            var (host, port) = RequestUrl.ParseAuthority(authority, 0);
            return new ParentProxy(host, port, credentials is null ? null : "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        }
        catch (HttpParseException e)
        {
            throw new FormatException($"'{value}': {e.Message}", e);
        }
    }

    public override string ToString() => $"{Host}:{Port}";
}
