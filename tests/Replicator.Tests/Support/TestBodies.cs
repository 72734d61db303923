namespace Replicator.Tests;

internal static class TestBodies
{
    /// <summary>Random bytes, the same for the same seed: a body whose every byte is checked.</summary>
    public static byte[] Random(int seed, int size)
    {
        var body = new byte[size];
        new System.Random(seed).NextBytes(body);
        return body;
    }
}
