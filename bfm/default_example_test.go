package bfm_test

import (
	"fmt"

	"github.com/stn3d/stn3d/bfm"
)

func ExampleDefault() {
	m, err := bfm.Default()
	if err != nil {
		fmt.Println(err)
		return
	}
	tip := m.Landmarks[bfm.SchemeAFLW21][14] // NoseCenter
	fmt.Printf("%d vertices, %d triangles, %d components (%s)\n",
		m.NumVertices(), len(m.Triangles), m.NumComponents(), m.Units)
	fmt.Printf("nose tip z = %.1f, first component %s (%s)\n",
		m.Mean[3*tip+2], m.Components[0].Name, m.Components[0].Kind)
	// Output:
	// 7857 vertices, 15360 triangles, 13 components (mm)
	// nose tip z = 0.0, first component face_width (identity)
}
