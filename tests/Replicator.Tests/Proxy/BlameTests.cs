using Replicator.Http;
using Replicator.Proxy;

namespace Replicator.Tests.Proxy;

/// <summary>The one table from a failed step (and the parser's fault) to the status, the side at fault and the outcome.</summary>
public class BlameTests
{
    [Theory]
    [InlineData("ClientHead", "RequestLineTooLong", 414, "Client", "ERROR:client")]
    [InlineData("ClientHead", "HeadTooLarge", 431, "Client", "ERROR:client")]
    [InlineData("ClientHead", "UnsupportedVersion", 505, "Client", "ERROR:client")]
    [InlineData("ClientHead", "MalformedUrl", 400, "Client", "ERROR:client")]
    [InlineData("ClientBody", "MalformedChunk", 400, "Client", "ERROR:client")]
    [InlineData("ClientTimeout", null, 408, "Client", "ERROR:client")]
    [InlineData("NotAllowed", null, 403, "Proxy", "ERROR:proxy")]
    [InlineData("OverCap", null, 503, "Client", "ERROR:client")]
    [InlineData("UpstreamConnect", null, 502, "Upstream", "ERROR:upstream")]
    [InlineData("UpstreamHead", "HeadTooLarge", 502, "Upstream", "ERROR:upstream")]
    [InlineData("UpstreamBody", "MalformedChunk", 502, "Upstream", "ERROR:upstream")]
    [InlineData("UpstreamTimeout", null, 504, "Upstream", "ERROR:upstream")]
    [InlineData("MustRevalidate", null, 504, "Upstream", "ERROR:upstream")]
    [InlineData("Offline", null, 504, "Proxy", "OFFLINE")]
    public void EveryStep_HasItsStatusSideAndOutcome(string step, string? fault, int status, string side, string outcome)
    {
        var error = new ProxyException(Enum.Parse<FailedStep>(step), "why", fault is null ? null : Enum.Parse<HttpFault>(fault));

        Assert.Equal(status, error.Status);
        Assert.Equal(side, error.Side.ToString());
        Assert.Equal(outcome, error.Outcome);
    }

    [Fact]
    public void TheSameFault_IsTheClientsInARequest_AndTheOriginsInAResponse()
    {
        var parse = new HttpParseException(HttpFault.MalformedField, "malformed header field");

        Assert.Equal((400, Side.Client), (ProxyException.FromClient(parse).Status, ProxyException.FromClient(parse).Side));
        var upstream = ProxyException.FromUpstream(parse, "h:80", TimeSpan.FromSeconds(15));
        Assert.Equal((502, Side.Upstream), (upstream.Status, upstream.Side));
    }
}
