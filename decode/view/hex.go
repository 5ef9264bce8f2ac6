package view

import "strings"

// HexWidth is the display width of a 16-byte hex dump line; narrower
// widths get 8 bytes per line.
const HexWidth = 78

// HexDump renders b like `hexdump -C`: an offset, the bytes in hex in two
// groups, and an ASCII column where anything unprintable is a dot. It
// writes 16 bytes per line when width allows (or width <= 0), else 8.
func HexDump(b []byte, width int) []string {
	return hexLines(b, width)
}

func hexLines(b []byte, width int) []string {
	per := 16
	if width > 0 && width < HexWidth {
		per = 8
	}
	half := per / 2
	out := make([]string, 0, (len(b)+per-1)/per)
	line := make([]byte, 0, HexWidth+2)
	for off := 0; off < len(b); off += per {
		line = line[:0]
		for shift := 28; shift >= 0; shift -= 4 {
			line = append(line, hexDigits[(off>>uint(shift))&0xf])
		}
		line = append(line, ' ', ' ')
		row := b[off:min(off+per, len(b))]
		for i := 0; i < per; i++ {
			if i == half {
				line = append(line, ' ')
			}
			if i < len(row) {
				line = append(line, hexDigits[row[i]>>4], hexDigits[row[i]&0xf], ' ')
			} else {
				line = append(line, ' ', ' ', ' ')
			}
		}
		line = append(line, ' ', '|')
		for _, c := range row {
			if c >= 0x20 && c < 0x7f {
				line = append(line, c)
			} else {
				line = append(line, '.')
			}
		}
		line = append(line, '|')
		out = append(out, strings.TrimRight(string(line), " "))
	}
	return out
}
