/**
 * The lines a terminal shows after these bytes: `\r` goes to the first column, `\n` to the next line,
 * `ESC [ K` erases to the end of the line, other escape sequences change nothing visible, and any other
 * character overwrites the one under the cursor. What one write hid under another is gone, as on a screen.
 */
export function screenOf(bytes: string): string[] {
  const lines: string[][] = [[]];
  let row = 0;
  let col = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === '\r') col = 0;
    else if (c === '\n') {
      row++;
      col = 0;
      lines[row] ??= [];
    } else if (c === '\x1b') {
      const csi = /^\x1b\[\??[0-9;]*[A-Za-z]/.exec(bytes.slice(i)) ?? /^\x1b./.exec(bytes.slice(i));
      const seq = csi![0];
      if (seq === '\x1b[K') lines[row]!.length = col;
      i += seq.length - 1;
    } else {
      const line = lines[row]!;
      while (line.length < col) line.push(' ');
      line[col++] = c;
    }
  }
  return lines.map((l) => l.join('').trimEnd()).filter((l) => l !== '');
}

