using Microsoft.Data.Sqlite;
using Serilog;

namespace Replicator.Cache.Upkeep;

/// <summary>One file's record: what the tree cannot hold (times in Unix milliseconds).</summary>
internal sealed record FileRecord(string Path, long Size, long Stored, long LastAccess, long Hits, long BytesServed, FileClass Class);

/// <summary>Totals per host (the first component of the cache path; https hosts as <c>https/HOST:PORT</c>).</summary>
internal sealed record HostRecord(string Host, long Hits, long Misses, long BytesFromCache, long BytesFromUpstream);

/// <summary>
/// What the tree cannot hold, kept across restarts in SQLite at ROOT/.replicator/usage.db (issue 14): per file its
/// last access, hits and bytes served; per host the totals; when the cache was created. The tree stays the truth:
/// the database may be deleted (it is rebuilt from the tree, see <see cref="UsageLedger"/>), and one that cannot be
/// read is moved aside with a warning. Written in batches by one thread; any process may read it (WAL mode).
/// </summary>
internal sealed class UsageDatabase : IDisposable
{
    public const string FileName = "usage.db";

    private const int Corrupt = 11;
    private const int NotADatabase = 26;

    private readonly SqliteConnection _connection;

    private UsageDatabase(SqliteConnection connection) => _connection = connection;

    /// <summary>When the cache was created (first opened with a database), Unix milliseconds.</summary>
    public long Created { get; private set; }

    /// <summary>Opens (or creates) the database of the cache at <paramref name="root"/>; a damaged one is moved aside and a new one started.</summary>
    public static UsageDatabase Open(string root, TimeProvider clock, bool readOnly = false)
    {
        var directory = Path.Join(root, CacheLayout.PrivateDirectory);
        var path = Path.Join(directory, FileName);
        if (!readOnly)
        {
            Directory.CreateDirectory(directory);
        }

        try
        {
            return OpenAt(path, clock, readOnly);
        }
        catch (SqliteException e) when (!readOnly && e.SqliteErrorCode is Corrupt or NotADatabase)
        {
            SqliteConnection.ClearAllPools();
            var aside = $"{path}.damaged-{clock.GetUtcNow():yyyyMMddTHHmmss}";
            foreach (var suffix in (string[])["", "-wal", "-shm"])
            {
                if (File.Exists(path + suffix))
                {
                    File.Move(path + suffix, aside + suffix, overwrite: true);
                }
            }

            Log.Warning("The cache's usage database {Path:l} could not be read ({Reason:l}): moved aside to {Aside:l}; a new one is built from the tree", path, e.Message, aside);
            return OpenAt(path, clock, readOnly);
        }
    }

    private static UsageDatabase OpenAt(string path, TimeProvider clock, bool readOnly)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString());
        try
        {
            connection.Open();
            var database = new UsageDatabase(connection);
            if (!readOnly)
            {
                database.Execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;");
                if (database.Scalar("PRAGMA quick_check") is not "ok")
                {
                    throw new SqliteException("the database failed its integrity check", Corrupt);
                }

                database.Execute("""
                    CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, size INTEGER NOT NULL, stored INTEGER NOT NULL,
                        last_access INTEGER NOT NULL, hits INTEGER NOT NULL DEFAULT 0, bytes_served INTEGER NOT NULL DEFAULT 0,
                        class INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
                    CREATE TABLE IF NOT EXISTS hosts(host TEXT PRIMARY KEY, hits INTEGER NOT NULL, misses INTEGER NOT NULL,
                        bytes_from_cache INTEGER NOT NULL, bytes_from_upstream INTEGER NOT NULL) WITHOUT ROWID;
                    CREATE TABLE IF NOT EXISTS facts(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
                    CREATE TABLE IF NOT EXISTS listed(path TEXT PRIMARY KEY, since INTEGER NOT NULL) WITHOUT ROWID;
                    """);
                database.Execute($"INSERT OR IGNORE INTO facts(name, value) VALUES ('created', {clock.GetUtcNow().ToUnixTimeMilliseconds()})");
            }

            database.Created = database.Scalar("SELECT value FROM facts WHERE name = 'created'") is long created ? created : 0;
            return database;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public IEnumerable<FileRecord> ReadFiles()
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT path, size, stored, last_access, hits, bytes_served, class FROM files";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return new FileRecord(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), (FileClass)reader.GetInt32(6));
        }
    }

    /// <summary>The files whose path starts with <paramref name="prefix"/> (a range of the primary key, not a scan).</summary>
    public IEnumerable<FileRecord> ReadFilesBelow(string prefix)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT path, size, stored, last_access, hits, bytes_served, class FROM files WHERE path >= $from AND path < $to";
        command.Parameters.AddWithValue("$from", prefix);
        command.Parameters.AddWithValue("$to", prefix + "\U0010FFFF");
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return new FileRecord(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), (FileClass)reader.GetInt32(6));
        }
    }

    public IReadOnlyList<HostRecord> ReadHosts()
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT host, hits, misses, bytes_from_cache, bytes_from_upstream FROM hosts ORDER BY host";
        using var reader = command.ExecuteReader();
        var hosts = new List<HostRecord>();
        while (reader.Read())
        {
            hosts.Add(new HostRecord(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)));
        }

        return hosts;
    }

    /// <summary>
    /// Writes one batch in one transaction: files stored, accessed or removed, and the hosts' totals added to.
    /// </summary>
    public void Write(IReadOnlyCollection<FileRecord> files, IReadOnlyCollection<string> removed, IReadOnlyCollection<HostRecord> hostDeltas)
    {
        using var transaction = _connection.BeginTransaction();
        using (var upsert = Command(transaction, """
            INSERT INTO files(path, size, stored, last_access, hits, bytes_served, class) VALUES ($path, $size, $stored, $access, $hits, $bytes, $class)
            ON CONFLICT(path) DO UPDATE SET size = $size, stored = $stored, last_access = $access, hits = $hits, bytes_served = $bytes, class = $class
            """, "$path", "$size", "$stored", "$access", "$hits", "$bytes", "$class"))
        {
            foreach (var file in files)
            {
                Run(upsert, file.Path, file.Size, file.Stored, file.LastAccess, file.Hits, file.BytesServed, (long)file.Class);
            }
        }

        using (var delete = Command(transaction, "DELETE FROM files WHERE path = $path", "$path"))
        {
            foreach (var path in removed)
            {
                Run(delete, path);
            }
        }

        using (var add = Command(transaction, """
            INSERT INTO hosts(host, hits, misses, bytes_from_cache, bytes_from_upstream) VALUES ($host, $hits, $misses, $cache, $upstream)
            ON CONFLICT(host) DO UPDATE SET hits = hits + $hits, misses = misses + $misses,
                bytes_from_cache = bytes_from_cache + $cache, bytes_from_upstream = bytes_from_upstream + $upstream
            """, "$host", "$hits", "$misses", "$cache", "$upstream"))
        {
            foreach (var host in hostDeltas)
            {
                Run(add, host.Host, host.Hits, host.Misses, host.BytesFromCache, host.BytesFromUpstream);
            }
        }

        transaction.Commit();
    }

    /// <summary>
    /// Per package file, when an index was last seen listing it, or when it was first seen listed by none (expiry's
    /// clock, Unix milliseconds).
    /// </summary>
    public Dictionary<string, long> ReadListed()
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT path, since FROM listed";
        using var reader = command.ExecuteReader();
        var listed = new Dictionary<string, long>(StringComparer.Ordinal);
        while (reader.Read())
        {
            listed[reader.GetString(0)] = reader.GetInt64(1);
        }

        return listed;
    }

    public void WriteListed(IReadOnlyDictionary<string, long> since, IReadOnlyCollection<string> removed)
    {
        using var transaction = _connection.BeginTransaction();
        using (var upsert = Command(transaction, "INSERT INTO listed(path, since) VALUES ($path, $since) ON CONFLICT(path) DO UPDATE SET since = $since", "$path", "$since"))
        {
            foreach (var (path, time) in since)
            {
                Run(upsert, path, time);
            }
        }

        using (var delete = Command(transaction, "DELETE FROM listed WHERE path = $path", "$path"))
        {
            foreach (var path in removed)
            {
                Run(delete, path);
            }
        }

        transaction.Commit();
    }

    public void Dispose() => _connection.Dispose();

    private SqliteCommand Command(SqliteTransaction transaction, string text, params string[] names)
    {
        var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = text;
        foreach (var name in names)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        command.Prepare();
        return command;
    }

    private static void Run(SqliteCommand command, params object[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i];
        }

        command.ExecuteNonQuery();
    }

    private void Execute(string text)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = text;
        command.ExecuteNonQuery();
    }

    private object? Scalar(string text)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = text;
        return command.ExecuteScalar();
    }
}
