import CZlib
import OLCore

/// gzip (RFC 1952) compression through zlib's streaming deflate/inflate, so golden files open with
/// `zcat` and Python's `gzip`. Decompression has a bounded output: a stream that inflates past the cap,
/// ends early, fails its CRC or carries trailing bytes throws a one-line error naming the file.
public enum Gzip {
    /// The largest decompressed size accepted by default: far above any golden we record, small enough
    /// that a corrupt or hostile length cannot exhaust memory.
    public static let defaultDecompressedLimit = 512 << 20

    private static let chunkSize = 1 << 16

    /// The gzip member for `bytes`; zlib's output is deterministic for a given zlib version and level.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6, source: String) throws -> [UInt8] {
        var stream = z_stream()
        guard olab_deflate_init_gzip(&stream, level) == Z_OK else { throw OutlierLabError("\(source): cannot initialise gzip compression") }
        defer { deflateEnd(&stream) }
        var output: [UInt8] = []
        let status = pump(bytes, through: &stream, { deflate(&$0, Z_FINISH) }) { status, produced, _ in
            output.append(contentsOf: produced)
            return status == Z_OK ? nil : status
        }
        guard status == Z_STREAM_END else { throw OutlierLabError("\(source): gzip compression failed (zlib status \(status))") }
        return output
    }

    /// The content of a single gzip member. Throws for a corrupt or truncated stream, trailing bytes
    /// after the member, or an output larger than `limit` bytes.
    public static func decompress(_ bytes: [UInt8], limit: Int = defaultDecompressedLimit, source: String) throws -> [UInt8] {
        guard bytes.count >= 18, bytes[0] == 0x1F, bytes[1] == 0x8B else {
            throw OutlierLabError("\(source): not a gzip file (corrupt or truncated)")
        }
        var stream = z_stream()
        guard olab_inflate_init_gzip(&stream) == Z_OK else { throw OutlierLabError("\(source): cannot initialise gzip decompression") }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        let end: InflateEnd = pump(bytes, through: &stream, { inflate(&$0, Z_NO_FLUSH) }) { status, produced, unread in
            if output.count + produced.count > limit { return .tooLarge }
            output.append(contentsOf: produced)
            switch status {
            case Z_STREAM_END: return .complete(trailingBytes: unread)
            // All input consumed with output space to spare: the stream stopped before its end.
            case Z_OK where unread == 0 && produced.count < chunkSize, Z_BUF_ERROR: return .truncated
            case Z_OK: return nil
            default: return .corrupt(status: status)
            }
        }
        switch end {
        case .complete(0): return output
        case .complete(let trailing): throw OutlierLabError("\(source): corrupt gzip file (\(trailing) trailing bytes after the stream)")
        case .truncated: throw OutlierLabError("\(source): truncated gzip file (the stream ends early)")
        case .tooLarge: throw OutlierLabError("\(source): refusing a gzip file that decompresses to more than \(limit) bytes")
        case .corrupt(let status):
            let reason = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
            throw OutlierLabError("\(source): corrupt gzip file (\(reason))")
        }
    }

    /// Feeds `bytes` to `stream` and runs `operation` (deflate or inflate) into a fresh 64 KiB output chunk
    /// until `consume` — given the operation's status, the bytes it produced and how many input bytes are
    /// still unread — returns a result.
    private static func pump<Result>(_ bytes: [UInt8], through stream: inout z_stream, _ operation: (inout z_stream) -> Int32,
                                     consume: (Int32, ArraySlice<UInt8>, Int) -> Result?) -> Result {
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        var input = bytes
        return input.withUnsafeMutableBufferPointer { inputBuffer in
            stream.next_in = inputBuffer.baseAddress
            stream.avail_in = UInt32(inputBuffer.count)
            while true {
                let status = chunk.withUnsafeMutableBufferPointer { chunkBuffer in
                    stream.next_out = chunkBuffer.baseAddress
                    stream.avail_out = UInt32(chunkBuffer.count)
                    return operation(&stream)
                }
                if let result = consume(status, chunk[0 ..< chunkSize - Int(stream.avail_out)], Int(stream.avail_in)) { return result }
            }
        }
    }

    private enum InflateEnd {
        case complete(trailingBytes: Int)
        case truncated
        case tooLarge
        case corrupt(status: Int32)
    }
}
