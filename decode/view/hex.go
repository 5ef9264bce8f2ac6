package view

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
	n := (len(b) + per - 1) / per
	buf := make([]byte, 0, n*(HexWidth+1))
	ends := make([]int, 0, n)
	for off := 0; off < len(b); off += per {
		line := buf
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
		buf = append(line, '|')
		ends = append(ends, len(buf))
	}
	// One conversion for the whole dump; lines are substrings of it.
	all := string(buf)
	out := make([]string, len(ends))
	start := 0
	for i, end := range ends {
		out[i] = all[start:end]
		start = end
	}
	return out
}
