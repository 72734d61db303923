using System.Text;

namespace Replicator.Http;

/// <summary>
/// A message's header fields in the order they came, names compared without case, repeats kept (two Set-Cookie
/// stay two). Small on purpose: a list, since a head has a few dozen fields at most.
/// </summary>
internal sealed class HttpHeaders
{
    /// <summary>
    /// Fields that concern one connection, not the message (RFC 9110 section 7.6.1), plus Content-Length, which
    /// whoever sends the message frames anew.
    /// </summary>
    private static readonly HashSet<string> s_hopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
        "Proxy-Authorization", "Proxy-Authenticate", "Content-Length",
    };

    private readonly List<KeyValuePair<string, string>> _fields = [];

    public int Count => _fields.Count;

    public IReadOnlyList<KeyValuePair<string, string>> Fields => _fields;

    public string? this[string name] => Get(name);

    public string? Get(string name)
    {
        foreach (var field in _fields)
        {
            if (field.Key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return field.Value;
            }
        }

        return null;
    }

    public bool Contains(string name) => Get(name) is not null;

    /// <summary>Every value of a list-valued field (repeated fields and comma-separated values), trimmed.</summary>
    public IEnumerable<string> GetList(string name)
    {
        foreach (var field in _fields)
        {
            if (field.Key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                foreach (var item in field.Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                {
                    yield return item;
                }
            }
        }
    }

    /// <summary>Whether a list-valued field holds <paramref name="token"/> (case-insensitive); asked per request, so it allocates nothing.</summary>
    public bool HasToken(string name, string token)
    {
        foreach (var field in _fields)
        {
            if (!field.Key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var value = field.Value.AsSpan();
            foreach (var item in value.Split(','))
            {
                if (value[item].Trim().Equals(token, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    public void Add(string name, string value) => _fields.Add(new(name, value));

    /// <summary>Replaces every field of that name with one.</summary>
    public void Set(string name, string value)
    {
        Remove(name);
        Add(name, value);
    }

    public bool Remove(string name) => _fields.RemoveAll(field => field.Key.Equals(name, StringComparison.OrdinalIgnoreCase)) > 0;

    /// <summary>
    /// The end-to-end fields: without the hop-by-hop ones, the fields Connection names, and whatever
    /// <paramref name="drop"/> says.
    /// </summary>
    public HttpHeaders EndToEnd(Func<string, bool>? drop = null)
    {
        var named = new HashSet<string>(GetList("Connection"), StringComparer.OrdinalIgnoreCase);
        var kept = new HttpHeaders();
        foreach (var (name, value) in _fields)
        {
            if (!s_hopByHop.Contains(name) && !named.Contains(name) && (drop is null || !drop(name)))
            {
                kept.Add(name, value);
            }
        }

        return kept;
    }

    public HttpHeaders Clone()
    {
        var copy = new HttpHeaders();
        copy._fields.AddRange(_fields);
        return copy;
    }

    /// <summary>Writes "Name: value\r\n" for every field.</summary>
    public void WriteTo(StringBuilder builder)
    {
        foreach (var field in _fields)
        {
            builder.Append(field.Key).Append(": ").Append(field.Value).Append("\r\n");
        }
    }
}
