using Replicator.Http;
using Serilog.Events;

namespace Replicator.Proxy;

/// <summary>
/// Why one value holds a whole access-log line: a line per request is the proxy's busiest log, and as eight Serilog
/// properties it cost a dictionary, eight properties, eight values and two boxed numbers per request, half of all a
/// cache hit allocated (issue 13, by dotnet-trace's allocation ticks), and the collections that garbage caused made
/// the tail of small hits. As one value it renders straight into the sink's writer, numbers and URL unallocated.
/// </summary>
internal sealed class AccessLine(string client, string method, RequestUrl? url, string target, int status, long bytes, string outcome, Cache.FileClass fileClass, long milliseconds)
    : LogEventPropertyValue
{
    /// <summary>The one property of an access-log event, rendered by the template <c>{Access}</c>.</summary>
    public const string PropertyName = "Access";

    /// <summary>"client method url status bytes outcome class durationms", as the proxy always wrote it.</summary>
    public override void Render(TextWriter output, string? format = null, IFormatProvider? formatProvider = null)
    {
        output.Write(client);
        output.Write(' ');
        output.Write(method);
        output.Write(' ');
        if (url is null)
        {
            output.Write(target);
        }
        else
        {
            url.WriteTo(output);
        }

        output.Write(' ');
        output.WriteNumber(status);
        output.Write(' ');
        output.WriteNumber(bytes);
        output.Write(' ');
        output.Write(outcome);
        output.Write(' ');
        output.Write(Cache.FileClasses.Name(fileClass));
        output.Write(' ');
        output.WriteNumber(milliseconds);
        output.Write("ms");
    }
}
