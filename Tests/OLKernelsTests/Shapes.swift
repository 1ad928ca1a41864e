/// Shapes the parameterised tests run over: odd sizes, C not a multiple of 8 or 16, T = 1.
struct RowShape: Sendable, CustomTestStringConvertible {
    var N: Int, C: Int
    var testDescription: String { "N=\(N) C=\(C)" }
    static let all = [RowShape(N: 1, C: 5), RowShape(N: 3, C: 7), RowShape(N: 9, C: 13),
                      RowShape(N: 4, C: 16), RowShape(N: 2, C: 33)]
}

struct MatmulShape: Sendable, CustomTestStringConvertible {
    var N: Int, C: Int, OC: Int
    var testDescription: String { "N=\(N) C=\(C) OC=\(OC)" }
    static let all = [MatmulShape(N: 1, C: 1, OC: 1), MatmulShape(N: 3, C: 5, OC: 7), MatmulShape(N: 9, C: 13, OC: 16),
                      MatmulShape(N: 6, C: 33, OC: 17), MatmulShape(N: 4, C: 16, OC: 64)]
}

struct SequenceShape: Sendable, CustomTestStringConvertible {
    var B: Int, T: Int, C: Int, H: Int = 1, V: Int = 1
    var testDescription: String { "B=\(B) T=\(T) C=\(C) H=\(H) V=\(V)" }
    static let embedding = [SequenceShape(B: 1, T: 1, C: 1, V: 1), SequenceShape(B: 2, T: 3, C: 5, V: 4),
                            SequenceShape(B: 3, T: 9, C: 7, V: 5), SequenceShape(B: 2, T: 9, C: 33, V: 16)]
    static let attention = [SequenceShape(B: 1, T: 1, C: 4, H: 1), SequenceShape(B: 2, T: 3, C: 6, H: 2),
                            SequenceShape(B: 1, T: 9, C: 16, H: 4), SequenceShape(B: 2, T: 9, C: 33, H: 3),
                            SequenceShape(B: 2, T: 5, C: 7, H: 1),
                            // T = 70 crosses two causal block boundaries (blocks of 32) and ends in a partial block.
                            SequenceShape(B: 1, T: 70, C: 8, H: 2),
                            // Heads of 16 (the audit model's) and 40 (two 16-column panels and an 8-column
                            // tail) reach the register-blocked lanes of the causal products: blocks of four
                            // rows and four keys, with row and key tails (T = 37, 11).
                            SequenceShape(B: 1, T: 37, C: 32, H: 2), SequenceShape(B: 1, T: 11, C: 40, H: 1)]
}

import Testing
