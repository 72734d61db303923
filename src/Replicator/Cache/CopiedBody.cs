namespace Replicator.Cache;

/// <summary>
/// A small body copied into memory: a hit on it costs one statx(2) instead of open, fstat, read and close, and goes
/// out with its head in one send.
/// </summary>
internal sealed class CopiedBody : KeptBody
{
    private CopiedBody(string path, FileIdentity identity, byte[] bytes)
        : base(path, identity)
    {
        Bytes = bytes;
    }

    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>Keeps bodies of up to <paramref name="largest"/> bytes, <paramref name="byteBudget"/> of them at most.</summary>
    public static KeptBodies<CopiedBody> Keeper(TimeProvider clock, TreeReader tree, long largest, long byteBudget, int countBudget = 65536, TimeSpan? idleAfter = null) =>
        new(clock, path => Copy(tree, path), largest, byteBudget, countBudget, idleAfter ?? TimeSpan.FromSeconds(30));

    /// <summary>Reads the file at <paramref name="path"/> as it is when opened; null when it is empty or changes while read.</summary>
    private static CopiedBody? Copy(TreeReader tree, string path)
    {
        using var handle = tree.OpenForReading(path);
        var identity = NativeFile.GetIdentity(handle);
        if (identity.Length is 0 or > int.MaxValue)
        {
            return null;
        }

        var bytes = new byte[identity.Length];
        var read = RandomAccess.Read(handle, bytes, 0);
        return read == bytes.Length && NativeFile.GetIdentity(handle) == identity ? new CopiedBody(path, identity, bytes) : null;
    }
}
