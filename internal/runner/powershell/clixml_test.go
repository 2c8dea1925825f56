package powershell_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/runner/powershell"
)

// errorDoc is what Windows PowerShell 5.1 writes on a redirected stderr for
// `Write-Error 'bad'` run with -File, preceded by a progress record.
const errorDoc = "#< CLIXML\r\n" +
	`<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">` +
	`<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN>` +
	`<MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj>` +
	`<S S="Error">C:\ProgramData\Stead\runs\r1\script.ps1 : bad_x000D__x000A_</S>` +
	`<S S="Error">    + CategoryInfo          : NotSpecified: (:) [Write-Error], WriteErrorException_x000D__x000A_</S>` +
	`<S S="Error">    + FullyQualifiedErrorId : Microsoft.PowerShell.Commands.WriteErrorException,script.ps1_x000D__x000A_</S>` +
	`<S S="Error"> _x000D__x000A_</S>` +
	`</Objs>`

const errorText = "C:\\ProgramData\\Stead\\runs\\r1\\script.ps1 : bad\r\n" +
	"    + CategoryInfo          : NotSpecified: (:) [Write-Error], WriteErrorException\r\n" +
	"    + FullyQualifiedErrorId : Microsoft.PowerShell.Commands.WriteErrorException,script.ps1\r\n" +
	" \r\n"

func TestDecodeCLIXML(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain text stays", "an error\r\nof a native program\n", "an error\r\nof a native program\n"},
		{"error records become text, progress goes", errorDoc, errorText},
		{"text around and between documents stays", "native says hi\n" + errorDoc + "\r\nmore\n" + errorDoc, "native says hi\n" + errorText + "more\n" + errorText},
		{"warnings and other streams are text too", "#< CLIXML\n" + `<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="warning">careful_x000A_</S><S S="verbose">said_x000A_</S></Objs>`, "careful\nsaid\n"},
		{"escapes: entities, a literal _x, a surrogate pair, a tab", "#< CLIXML\n" + `<Objs xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">a &lt;b&gt; &amp; _x005F_x0041_ _xD83D__xDE00__x0009_end</S></Objs>`, "a <b> & _x0041_ \U0001F600\tend"},
		{"a document cut short keeps the text it holds", errorDoc[:len(errorDoc)-60], errorText[:strings.Index(errorText, ",script.")+len(",script.")]},
		{"a marker with no document stays text", "#< CLIXML\nnot xml at all\n", "#< CLIXML\nnot xml at all\n"},
		{"a marker alone stays text", "#< CLIXML", "#< CLIXML"},
		{"another root element stays text", "#< CLIXML\n<html>x</html>", "#< CLIXML\n<html>x</html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, string(powershell.DecodeCLIXML([]byte(tc.in))))
		})
	}
}

// FuzzDecodeCLIXML: the decoder never panics, leaves a stream without a
// CLIXML marker as it is, and never makes a stream longer (it only drops
// markup and shortens escapes).
func FuzzDecodeCLIXML(f *testing.F) {
	f.Add([]byte(errorDoc))
	f.Add([]byte("x\n" + errorDoc + "\ny" + errorDoc[:100]))
	f.Add([]byte("#< CLIXML\n<Objs><S S=\"Error\">_xD800_ _x12_ _xZZZZ_</S></Objs>"))
	f.Add([]byte("plain"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := powershell.DecodeCLIXML(bytes.Clone(in))
		if !bytes.Contains(in, []byte("#< CLIXML")) && !bytes.Equal(in, out) {
			t.Fatalf("changed a stream without CLIXML: %q -> %q", in, out)
		}
		if len(out) > len(in) {
			t.Fatalf("decoded %d bytes into %d: %q -> %q", len(in), len(out), in, out)
		}
	})
}
