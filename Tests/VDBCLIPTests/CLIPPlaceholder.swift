import Testing
@testable import VDBCLIP
